// A masto.js session against Chirp's edge, as an app would run it: register an app, sign two people up, follow,
// post, stream, reply, read the context, favourite, reblog, read home and notifications, delete.
// Usage: node client.mjs BASE_URL SUFFIX  -> one JSON object of what it saw, on stdout.
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";

const [url, suffix] = process.argv.slice(2);
const scopes = "read write follow push";
const password = "correct horse battery staple";

const anonymous = createRestAPIClient({ url });
const app = await anonymous.v1.apps.create({ clientName: "masto.js test", redirectUris: "urn:ietf:wg:oauth:2.0:oob", scopes });
const oauth = createOAuthAPIClient({ url });
const appToken = await oauth.token.create({
  grantType: "client_credentials", clientId: app.clientId, clientSecret: app.clientSecret, scope: scopes,
});

async function signUp(username) {
  const registrar = createRestAPIClient({ url, accessToken: appToken.accessToken });
  await registrar.v1.accounts.create({ username, email: `${username}@example.com`, password, agreement: true, locale: "en" });
  const token = await oauth.token.create({
    grantType: "password", clientId: app.clientId, clientSecret: app.clientSecret, username, password, scope: scopes,
  });
  return { rest: createRestAPIClient({ url, accessToken: token.accessToken }), token: token.accessToken };
}

const ada = await signUp(`mjsa${suffix}`);
const bob = await signUp(`mjsb${suffix}`);
const adaAccount = await ada.rest.v1.accounts.verifyCredentials();
const bobAccount = await bob.rest.v1.accounts.verifyCredentials();
const relationship = await bob.rest.v1.accounts.$select(adaAccount.id).follow();

const instance = await anonymous.v2.instance.fetch();
const streaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming, accessToken: bob.token, retry: false,
});
const subscription = streaming.user.subscribe();
const firstUpdate = (async () => {
  for await (const event of subscription) {
    if (event.event === "update") return event.payload;
  }
})();
await new Promise((resolve) => setTimeout(resolve, 1500));

const text = `Hello @${bobAccount.username} #chirp https://example.com/masto 日本語のテキスト 🎉`;
const status = await ada.rest.v1.statuses.create({ status: text });
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no update within 20 s")), 20000));
const streamed = await Promise.race([firstUpdate, timeout]);
subscription.unsubscribe();
streaming.close();

const reply = await bob.rest.v1.statuses.create({ status: `@${adaAccount.username} Thanks!`, inReplyToId: status.id });
await new Promise((resolve) => setTimeout(resolve, 1000));
const context = await ada.rest.v1.statuses.$select(status.id).context.fetch();
const favourited = await bob.rest.v1.statuses.$select(status.id).favourite();
const reblogged = await bob.rest.v1.statuses.$select(status.id).reblog();
await new Promise((resolve) => setTimeout(resolve, 2000));
const home = await bob.rest.v1.timelines.home.list({ limit: 20 });
const notifications = await ada.rest.v1.notifications.list();
const deleted = await ada.rest.v1.statuses.$select(status.id).remove();

console.log(JSON.stringify({
  following: relationship.following,
  status: { id: status.id, content: status.content, tags: status.tags.map((t) => t.name), mentions: status.mentions.map((m) => m.acct) },
  streamed: streamed.id,
  descendants: context.descendants.map((s) => s.id),
  reply: reply.id,
  favourited: favourited.favourited,
  reblogged: reblogged.reblogged,
  home: home.map((s) => s.id),
  notifications: notifications.map((n) => n.type),
  deleted: deleted.id,
}));
