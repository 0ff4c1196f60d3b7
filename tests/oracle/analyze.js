#!/usr/bin/env node
// The oracle of Chirp's text rules: the official twitter-text (pinned in package.json / package-lock.json).
//
// Reads standard input as lines, each a JSON string, and prints one JSON object per line with what twitter-text
// says of that text. Indices are exactly as twitter-text gives them: UTF-16 code units, end exclusive.
// parseTweet gets the text as received (it NFC-normalizes by itself); the extractors get the NFC form, which is
// what Chirp stores and extracts from. tests/unit/test_text_oracle.py runs it once per batch of texts.
'use strict';

const twttr = require('twitter-text');

function analyze(text) {
  const nfc = text.normalize('NFC');
  return {
    nfc,
    v1: twttr.parseTweet(text, twttr.configs.version1),
    v3: twttr.parseTweet(text, twttr.configs.version3),
    mentions: twttr.extractMentionsWithIndices(nfc),
    mentionsOrLists: twttr.extractMentionsOrListsWithIndices(nfc),
    hashtags: twttr.extractHashtagsWithIndices(nfc),
    urls: twttr.extractUrlsWithIndices(nfc),
    cashtags: twttr.extractCashtagsWithIndices(nfc),
    entities: twttr.extractEntitiesWithIndices(nfc),
  };
}

function main() {
  const chunks = [];
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', () => {
    const input = Buffer.concat(chunks).toString('utf8');
    const lines = input.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    const out = [];
    lines.forEach((line, index) => {
      let text;
      try {
        text = JSON.parse(line);
      } catch (error) {
        out.push(JSON.stringify({ error: `line ${index + 1}: ${error.message}` }));
        return;
      }
      if (typeof text !== 'string') {
        out.push(JSON.stringify({ error: `line ${index + 1}: not a JSON string` }));
        return;
      }
      out.push(JSON.stringify(analyze(text)));
    });
    process.stdout.write(out.length ? out.join('\n') + '\n' : '');
  });
}

main();
