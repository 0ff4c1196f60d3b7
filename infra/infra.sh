#!/usr/bin/env bash
# Chirp local infrastructure: a real single-node Apache Kafka (KRaft), a real
# single-node Apache Cassandra 5.0 and, when asked for, a real single-node OpenSearch 2.19
# (the search service's second backend), run as plain `java` processes from jars that
# Maven fetches from Maven Central. No Docker, no tarballs.
#
#   infra/infra.sh fetch|start|stop|status|wait|clean [kafka|cassandra|opensearch|all] [--all]
#
# See infra/README.md for the recipe, the measured timings and the gotchas.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: infra/infra.sh COMMAND [kafka|cassandra|opensearch|all]...

components: with none named, or `all`: kafka and cassandra, what every Chirp needs; opensearch only when named
(make up SEARCH=opensearch does), except that `stop` and `clean` with none named include opensearch too.

commands:
  fetch    download the jars with Maven into $CHIRP_DATA_DIR/jars/<component> (no-op if present)
  start    start in the background (fetches first if needed); no-op if already running
  wait     block until ready (log line + port), at most $CHIRP_INFRA_TIMEOUT seconds
  status   print component, state, pid, port; exit 0 only if all requested are up
  stop     SIGTERM, then SIGKILL after $CHIRP_INFRA_STOP_TIMEOUT seconds; keeps data
  clean    stop and delete data and logs (keeps jars; `clean --all` deletes jars too)
  nodetool ARGS...  run Cassandra's nodetool (needs CHIRP_CASSANDRA_JMX_PORT, see below)

environment (defaults):
  CHIRP_DATA_DIR=<repo>/.data          data, logs, pid files and jars
  CHIRP_JARS_DIR=$CHIRP_DATA_DIR/jars  where the jars go (several instances on one machine can share them)
  CHIRP_KAFKA_PORT=9092                Kafka PLAINTEXT listener (127.0.0.1)
  CHIRP_KAFKA_CONTROLLER_PORT=9093     Kafka KRaft controller listener (127.0.0.1)
  CHIRP_CASSANDRA_PORT=9042            Cassandra CQL native transport (127.0.0.1)
  CHIRP_CASSANDRA_STORAGE_PORT=7000    Cassandra internode/gossip port (127.0.0.1)
  CHIRP_CASSANDRA_JMX_PORT=            unset: no JMX; set: local-only JMX (for nodetool)
  CHIRP_KAFKA_HEAP=1g                  Kafka -Xmx (-Xms is 512m, or the -Xmx if smaller)
  CHIRP_CASSANDRA_HEAP=1G              Cassandra -Xms and -Xmx
  CHIRP_OPENSEARCH_PORT=9200           OpenSearch HTTP (127.0.0.1)
  CHIRP_OPENSEARCH_TRANSPORT_PORT=9300 OpenSearch transport (127.0.0.1; one node, but it binds it)
  CHIRP_OPENSEARCH_HEAP=512m           OpenSearch -Xms and -Xmx (direct memory: half of it)
  CHIRP_OPENSEARCH_USER=nobody         as root only: OpenSearch refuses to run as root, so it runs as this user
  CHIRP_INFRA_TIMEOUT=180              seconds `wait` waits for readiness
  CHIRP_INFRA_STOP_TIMEOUT=30          seconds `stop` waits before SIGKILL
  JAVA_HOME                            used if set, else `java` from PATH
EOF
}

say() { printf 'infra: %s\n' "$*"; }
err() { printf 'infra: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

# ---------------------------------------------------------------- locations
INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(dirname "$INFRA_DIR")

DATA_DIR=${CHIRP_DATA_DIR:-$REPO_DIR/.data}
mkdir -p "$DATA_DIR" || die "cannot create data dir $DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd -P)
[[ -n $DATA_DIR && $DATA_DIR != / ]] || die "refusing to use '$DATA_DIR' as CHIRP_DATA_DIR"
# The data folder ignores itself, so it never shows up in `git status`.
[[ -e $DATA_DIR/.gitignore ]] || printf '# created by infra/infra.sh\n*\n' >"$DATA_DIR/.gitignore"

LOG_DIR=$DATA_DIR/logs
PID_DIR=$DATA_DIR/pids
JARS_DIR=${CHIRP_JARS_DIR:-$DATA_DIR/jars}

KAFKA_PORT=${CHIRP_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${CHIRP_KAFKA_CONTROLLER_PORT:-9093}
CASSANDRA_PORT=${CHIRP_CASSANDRA_PORT:-9042}
CASSANDRA_STORAGE_PORT=${CHIRP_CASSANDRA_STORAGE_PORT:-7000}
CASSANDRA_JMX_PORT=${CHIRP_CASSANDRA_JMX_PORT:-}
OPENSEARCH_PORT=${CHIRP_OPENSEARCH_PORT:-9200}
OPENSEARCH_TRANSPORT_PORT=${CHIRP_OPENSEARCH_TRANSPORT_PORT:-9300}
OPENSEARCH_HEAP=${CHIRP_OPENSEARCH_HEAP:-512m}
OPENSEARCH_USER=${CHIRP_OPENSEARCH_USER:-nobody}
KAFKA_HEAP=${CHIRP_KAFKA_HEAP:-1g}
CASSANDRA_HEAP=${CHIRP_CASSANDRA_HEAP:-1G}
TIMEOUT=${CHIRP_INFRA_TIMEOUT:-180}
STOP_TIMEOUT=${CHIRP_INFRA_STOP_TIMEOUT:-30}

for v in KAFKA_PORT KAFKA_CONTROLLER_PORT CASSANDRA_PORT CASSANDRA_STORAGE_PORT OPENSEARCH_PORT \
  OPENSEARCH_TRANSPORT_PORT TIMEOUT STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ -z $CASSANDRA_JMX_PORT || $CASSANDRA_JMX_PORT =~ ^[0-9]+$ ]] ||
  die "CHIRP_CASSANDRA_JMX_PORT must be a number, got '$CASSANDRA_JMX_PORT'"
[[ $OPENSEARCH_HEAP =~ ^[0-9]+[mMgG]$ ]] || die "CHIRP_OPENSEARCH_HEAP must look like 512m or 1g, got '$OPENSEARCH_HEAP'"

MAVEN_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
LAUNCHED=0
LAUNCH_AS=()  # a prefix for the java command (setpriv, for OpenSearch as root)

# ---------------------------------------------------------------- per component
comp_port() {
  case $1 in kafka) echo "$KAFKA_PORT" ;; cassandra) echo "$CASSANDRA_PORT" ;; opensearch) echo "$OPENSEARCH_PORT" ;; esac
}
comp_extra_ports() {
  case $1 in
    kafka) echo "$KAFKA_CONTROLLER_PORT" ;;
    cassandra) echo "$CASSANDRA_STORAGE_PORT $CASSANDRA_JMX_PORT" ;;
    opensearch) echo "$OPENSEARCH_TRANSPORT_PORT" ;;
  esac
}
comp_ready_line() {
  case $1 in
    kafka) echo 'Kafka Server started' ;;
    cassandra) echo 'Starting listening for CQL clients' ;;
    opensearch) echo '[o.o.n.Node] [chirp] started' ;;  # the pattern of infra/opensearch/log4j2.properties
  esac
}
comp_log() { echo "$LOG_DIR/$1.log"; }  # written by log4j / logback (OpenSearch: log4j2.properties)
comp_out() { echo "$LOG_DIR/$1.out"; }  # the JVM's stdout+stderr
pid_file() { echo "$PID_DIR/$1.pid"; }

# ---------------------------------------------------------------- prerequisites
JAVA=
need_java() {
  [[ -n $JAVA ]] && return 0
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    JAVA=$JAVA_HOME/bin/java
  elif command -v java >/dev/null 2>&1; then
    JAVA=$(command -v java)
  else
    die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
  fi
  local major
  major=$("$JAVA" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ {print $2; exit}')
  major=${major#1.}
  [[ $major =~ ^[0-9]+$ ]] || die "cannot determine the Java version of $JAVA"
  if ((major < 17)); then
    die "$JAVA is Java $major: Java 17 is required (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
  elif ((major > 17)); then
    say "WARNING: $JAVA is Java $major; Cassandra 5.0 supports Java 11 and 17 only (set JAVA_HOME to a JDK 17)"
  fi
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: install Maven 3.8+ (apt-get install maven); it fetches the Kafka/Cassandra jars from Maven Central"
}

# ---------------------------------------------------------------- process helpers
port_open() {  # port_open PORT -> 0 if something accepts TCP on 127.0.0.1:PORT
  local port=$1
  if command -v timeout >/dev/null 2>&1; then
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
  else
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
  fi
}

proc_cmdline() {
  if [[ -r /proc/$1/cmdline ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
  else
    ps -o args= -p "$1" 2>/dev/null || true
  fi
}

# running_pid COMP -> prints the pid if our JVM for COMP is alive (the pid file alone
# is not trusted: the process must exist and carry -Dchirp.component=COMP).
running_pid() {
  local pf pid
  pf=$(pid_file "$1")
  [[ -f $pf ]] || return 1
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(proc_cmdline "$pid") == *"-Dchirp.component=$1 "* ]] || return 1
  echo "$pid"
}

file_url() {  # absolute path -> file: URL (only % and space need escaping here)
  local p=${1//%/%25}
  p=${p// /%20}
  echo "file://$p"
}

read_jvm_options() {  # read_jvm_options FILE -> fills array JVM_OPTS
  JVM_OPTS=()
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    if [[ -n $line ]]; then JVM_OPTS+=("$line"); fi
  done <"$1"
}

render() {  # render TEMPLATE OUT KEY=VALUE... : replaces @KEY@ with VALUE
  local text kv key val
  text=$(<"$1")
  shift
  local out=$1
  shift
  for kv in "$@"; do
    key=${kv%%=*}
    val=${kv#*=}
    text=${text//"@$key@"/"$val"}
  done
  if grep -qE '@[A-Z_]+@' <<<"$text"; then
    die "unreplaced placeholder in $out: $(grep -oE '@[A-Z_]+@' <<<"$text" | sort -u | tr '\n' ' ')"
  fi
  printf '%s\n' "$text" >"$out"
}

rotate_logs() {  # keep the previous run's logs as *.prev; the current files are this run only
  local f
  for f in "$(comp_log "$1")" "$(comp_out "$1")"; do
    [[ -f $f ]] && mv -f "$f" "$f.prev"
  done
  return 0
}

show_log_tail() {  # show_log_tail COMP
  local log out
  log=$(comp_log "$1")
  out=$(comp_out "$1")
  if [[ -s $log ]]; then
    err "last 20 lines of $log:"
    tail -n 20 "$log" | cut -c1-400 | sed 's/^/    /' >&2
  else
    err "$log is empty or missing"
  fi
  if [[ -s $out ]]; then
    err "last 20 lines of $out (JVM stdout/stderr):"
    tail -n 20 "$out" | cut -c1-400 | sed 's/^/    /' >&2
  fi
}

lock() {  # serialise start/stop/clean between concurrent invocations
  mkdir -p "$PID_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$PID_DIR/.lock"
    flock -w 120 9 || die "another infra.sh is busy (lock $PID_DIR/.lock)"
  fi
}

# ---------------------------------------------------------------- fetch
fetch_inputs() {  # the files whose checksum the .fetched marker holds: change one and the next fetch fetches again
  echo "$INFRA_DIR/$1/pom.xml"
  if [[ $1 == opensearch ]]; then find "$INFRA_DIR/opensearch/modules" -type f | LC_ALL=C sort; fi
}

# layout_opensearch DIR: turns the flat folder of jars Maven copied into an OpenSearch home, as the distribution's
# archive unpacks: lib/ (the server's classpath), modules/<name>/ (each module's jars, its plugin-descriptor.properties
# and, if it has one, its plugin-security.policy) and empty bin/ and plugins/. Which jars a module owns is listed in
# infra/opensearch/modules/<name>/jars; a jar in lib/ and in a module would be jar hell, so each goes to one place.
layout_opensearch() {
  local dir=$1 server version mdir name glob jar n
  server=$(find "$dir" -maxdepth 1 -name 'opensearch-[0-9]*.jar' | head -n 1)
  [[ -n $server ]] || die "opensearch: Maven copied no opensearch-<version>.jar into $dir"
  version=${server##*/opensearch-}
  version=${version%.jar}
  mkdir -p "$dir/bin" "$dir/lib" "$dir/modules" "$dir/plugins"  # bin/ empty: the node only checks it exists
  for mdir in "$INFRA_DIR"/opensearch/modules/*/; do
    name=$(basename "$mdir")
    mkdir -p "$dir/modules/$name"
    while read -r glob; do
      [[ -z $glob || $glob == \#* ]] && continue
      n=0
      for jar in "$dir"/$glob; do
        [[ -f $jar ]] || continue
        mv "$jar" "$dir/modules/$name/"
        n=$((n + 1))
      done
      ((n > 0)) || die "opensearch: module $name wants '$glob' (infra/opensearch/modules/$name/jars) but Maven copied no such jar"
    done <"$mdir/jars"
    render "$mdir/plugin-descriptor.properties" "$dir/modules/$name/plugin-descriptor.properties" \
      "OPENSEARCH_VERSION=$version"
    if [[ -f $mdir/plugin-security.policy ]]; then cp "$mdir/plugin-security.policy" "$dir/modules/$name/"; fi
  done
  mv "$dir"/*.jar "$dir/lib/"
  say "opensearch: laid out $version as a home: $(find "$dir/lib" -name '*.jar' | wc -l | tr -d ' ') jars in lib/, modules: $(ls "$dir/modules" | tr '\n' ' ')"
}

fetch_one() {
  local comp=$1 pom dir marker want tmp t0
  pom=$INFRA_DIR/$comp/pom.xml
  dir=$JARS_DIR/$comp
  marker=$dir/.fetched
  want=$(fetch_inputs "$comp" | while IFS= read -r f; do cat "$f"; done | cksum | awk '{print $1}')
  if [[ -f $marker && $(<"$marker") == "$want" ]]; then
    say "$comp: jars present in $dir"
    return 0
  fi
  need_mvn
  say "$comp: fetching jars with Maven (pom: $pom) ..."
  t0=$SECONDS
  tmp=$JARS_DIR/.$comp.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$JARS_DIR"
  # (sed: Maven 3.8 prints bare ANSI resets even in batch mode; pipefail keeps mvn's status)
  if ! mvn -B -q -Dstyle.color=never -f "$pom" "$MAVEN_DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null 2>&1 |
    sed -e $'s/\x1b\\[[0-9;]*m//g'; then
    rm -rf "$tmp"
    die "$comp: Maven could not fetch the jars (see the output above; is Maven Central reachable?)"
  fi
  if [[ $comp == opensearch ]]; then layout_opensearch "$tmp"; fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "$want" >"$marker"
  say "$comp: $(find "$dir" -name '*.jar' | wc -l | tr -d ' ') jars in $dir ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- start
launch() {  # launch COMP WORKDIR JAVA-ARGS... : background JVM, own session, pid file
  local comp=$1 workdir=$2 pf pid i
  shift 2
  pf=$(pid_file "$comp")
  rm -f "$pf"
  # The inner bash writes its own pid and then execs java, so the pid file holds the
  # JVM's pid whether or not setsid had to fork.
  local -a detach=(nohup)
  if command -v setsid >/dev/null 2>&1; then detach=(setsid nohup); fi
  (
    cd "$workdir"
    exec "${detach[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pf" "${LAUNCH_AS[@]+"${LAUNCH_AS[@]}"}" "$JAVA" "$@"
  ) </dev/null >>"$(comp_out "$comp")" 2>&1 9>&- &
  for ((i = 0; i < 100; i++)); do
    [[ -s $pf ]] && break
    sleep 0.1
  done
  [[ -s $pf ]] || die "$comp: launcher did not write $pf"
  pid=$(<"$pf")
  LAUNCHED=1
  say "$comp: started (pid $pid, port $(comp_port "$comp")); log: $(comp_log "$comp")"
}

check_ports_free() {
  local comp=$1 p
  for p in $(comp_port "$comp") $(comp_extra_ports "$comp"); do
    if port_open "$p"; then
      die "$comp: port $p on 127.0.0.1 is already in use by another process (not one started by this script with CHIRP_DATA_DIR=$DATA_DIR); stop it or set the CHIRP_*_PORT variables"
    fi
  done
}

start_kafka() {
  local kdir=$DATA_DIR/kafka jars=$JARS_DIR/kafka props cid
  mkdir -p "$kdir/config" "$kdir/data" "$LOG_DIR"
  props=$kdir/config/server.properties
  render "$INFRA_DIR/kafka/server.properties" "$props" \
    "KAFKA_PORT=$KAFKA_PORT" "KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" \
    "KAFKA_LOG_DIR=$kdir/data"
  local -a log_opts=(-Dkafka.logs.dir="$LOG_DIR"
    -Dlog4j.configuration="$(file_url "$INFRA_DIR/kafka/log4j.properties")")
  if [[ ! -f $kdir/data/meta.properties ]]; then
    # First start: KRaft needs its storage formatted with a cluster id.
    cid=$("$JAVA" "${log_opts[@]}" -cp "$jars/*" kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ -n $cid ]] || die "kafka: StorageTool random-uuid printed nothing"
    "$JAVA" "${log_opts[@]}" -cp "$jars/*" kafka.tools.StorageTool \
      format -t "$cid" -c "$props" --ignore-formatted >>"$(comp_out kafka)" 2>&1 ||
      { show_log_tail kafka; die "kafka: formatting $kdir/data failed"; }
    say "kafka: formatted $kdir/data (cluster id $cid)"
  fi
  read_jvm_options "$INFRA_DIR/kafka/jvm.options"
  local xms=512m
  if [[ $KAFKA_HEAP =~ ^([0-9]+)[mM]$ ]] && ((BASH_REMATCH[1] < 512)); then xms=$KAFKA_HEAP; fi
  launch kafka "$kdir" -Xms"$xms" -Xmx"$KAFKA_HEAP" "${JVM_OPTS[@]}" "${log_opts[@]}" \
    -Dchirp.component=kafka -cp "$jars/*" kafka.Kafka "$props"
}

start_cassandra() {
  local cdir=$DATA_DIR/cassandra jars=$JARS_DIR/cassandra yaml jamm d
  for d in conf data commitlog saved_caches hints cdc_raw triggers; do mkdir -p "$cdir/$d"; done
  mkdir -p "$LOG_DIR"
  yaml=$cdir/conf/cassandra.yaml
  # Paths go into single-quoted YAML scalars: double any single quote.
  render "$INFRA_DIR/cassandra/cassandra.yaml" "$yaml" \
    "DATA_DIR=${cdir//\'/\'\'}" "CQL_PORT=$CASSANDRA_PORT" "STORAGE_PORT=$CASSANDRA_STORAGE_PORT"
  jamm=$(find "$jars" -maxdepth 1 -name 'jamm-*.jar' | head -n 1)
  [[ -n $jamm ]] || die "cassandra: no jamm-*.jar in $jars (run: infra/infra.sh clean cassandra --all && infra/infra.sh fetch cassandra)"
  read_jvm_options "$INFRA_DIR/cassandra/jvm.options"
  local -a jmx=()
  if [[ -n $CASSANDRA_JMX_PORT ]]; then jmx=(-Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"); fi
  launch cassandra "$cdir" -Xms"$CASSANDRA_HEAP" -Xmx"$CASSANDRA_HEAP" "${JVM_OPTS[@]}" \
    -javaagent:"$jamm" \
    -Dcassandra.config="$(file_url "$yaml")" \
    -Dcassandra.storagedir="$cdir" \
    -Dcassandra.triggers_dir="$cdir/triggers" \
    -Dcassandra.logdir="$LOG_DIR" \
    -Dlogback.configurationFile="$INFRA_DIR/cassandra/logback.xml" \
    -Dcassandra-foreground=yes \
    "${jmx[@]}" \
    -Dchirp.component=cassandra -cp "$jars/*" org.apache.cassandra.service.CassandraDaemon
}

mb() {  # mb 512m|1g -> 512|1024
  local n=${1%[mMgG]}
  case ${1: -1} in g | G) echo $((n * 1024)) ;; *) echo "$n" ;; esac
}

# OpenSearch's home (lib/, modules/, plugins/) is the jars folder itself, laid out by fetch and shared read-only by
# every instance; its config, data and temporary files live in $DATA_DIR/opensearch, its log in $LOG_DIR.
#
# As root the node runs as CHIRP_OPENSEARCH_USER (OpenSearch refuses root). When that user cannot reach the data
# folder or the jars (a folder above them that only root may enter: /root, a mkdtemp folder), the node runs from a
# folder it can reach instead, opensearch_stage: the home hard-linked (or copied) there, the node's files beside it,
# and $LOG_DIR/opensearch.log a link to its log. `clean` deletes it too.
opensearch_stage() { echo "${TMPDIR:-/tmp}/chirp-opensearch-$(printf '%s' "$DATA_DIR" | cksum | awk '{print $1}')"; }

start_opensearch() {
  local odir=$DATA_DIR/opensearch home=$JARS_DIR/opensearch logs=$LOG_DIR conf heap log user uid gid stage
  [[ -d $home/lib && -d $home/modules ]] ||
    die "opensearch: $home is not a laid-out home (run: infra/infra.sh clean opensearch --all && infra/infra.sh fetch opensearch)"
  mkdir -p "$odir" "$LOG_DIR"
  log=$(comp_log opensearch)
  rm -f "$log"
  LAUNCH_AS=()
  if ((EUID == 0)); then
    # OpenSearch will not run as root ("can not run opensearch as root"). As root this script runs it as
    # CHIRP_OPENSEARCH_USER instead, which owns the node's own files and nothing else.
    user=$OPENSEARCH_USER
    uid=$(id -u "$user" 2>/dev/null) || die "opensearch: no user '$user' to run as (set CHIRP_OPENSEARCH_USER to an unprivileged user)"
    ((uid != 0)) || die "opensearch: CHIRP_OPENSEARCH_USER=$user is root; OpenSearch refuses to run as root"
    gid=$(id -g "$user")
    command -v setpriv >/dev/null 2>&1 || die "opensearch: setpriv not found (apt-get install util-linux), needed to run OpenSearch as $user"
    LAUNCH_AS=(setpriv --reuid="$uid" --regid="$gid" --init-groups --)
    if ! "${LAUNCH_AS[@]}" test -x "$odir" -a -x "$LOG_DIR" -a -r "$home/lib" -a -x "$home/lib"; then
      stage=$(opensearch_stage)
      say "opensearch: $user cannot reach $odir or $home (a folder above them is closed to it): running from $stage"
      mkdir -p "$stage"
      chmod 755 "$stage"
      if [[ ! -f $stage/home/.fetched || $(<"$stage/home/.fetched") != "$(<"$home/.fetched")" ]]; then
        rm -rf "$stage/home"
        cp -al "$home" "$stage/home" 2>/dev/null || { rm -rf "$stage/home" && cp -a "$home" "$stage/home"; }
      fi
      home=$stage/home
      odir=$stage/node
      logs=$stage/logs
      mkdir -p "$logs"
      if [[ -f $logs/opensearch.log ]]; then mv -f "$logs/opensearch.log" "$logs/opensearch.log.prev"; fi
      : >"$logs/opensearch.log"
      ln -sfn "$logs/opensearch.log" "$log"
      if [[ -L $log.prev ]]; then ln -sfn "$logs/opensearch.log.prev" "$log.prev"; fi
      log=$logs/opensearch.log
    fi
  fi
  conf=$odir/config
  mkdir -p "$conf" "$odir/data" "$odir/tmp"
  # Paths go into single-quoted YAML scalars: double any single quote.
  render "$INFRA_DIR/opensearch/opensearch.yml" "$conf/opensearch.yml" \
    "DATA_DIR=${odir//\'/\'\'}/data" "LOG_DIR=${logs//\'/\'\'}" \
    "HTTP_PORT=$OPENSEARCH_PORT" "TRANSPORT_PORT=$OPENSEARCH_TRANSPORT_PORT"
  cp "$INFRA_DIR/opensearch/log4j2.properties" "$conf/log4j2.properties"
  [[ -f $log ]] || : >"$log"
  if ((EUID == 0)); then
    if [[ $(stat -c %u "$odir") != "$uid" || $(stat -c %u "$odir/data") != "$uid" ]]; then chown -R "$uid:$gid" "$odir"; fi
    chown "$uid:$gid" "$conf" "$conf"/* "$odir/tmp" "$log"
    if ! "${LAUNCH_AS[@]}" test -r "$home/lib" -a -x "$home/lib" -a -w "$odir/data" -a -w "$log"; then
      die "opensearch: user $user cannot read $home or write $odir and $log"
    fi
  fi
  read_jvm_options "$INFRA_DIR/opensearch/jvm.options"
  heap=$(mb "$OPENSEARCH_HEAP")
  launch opensearch "$odir" -Xms"${heap}m" -Xmx"${heap}m" -XX:MaxDirectMemorySize=$((heap / 2))m "${JVM_OPTS[@]}" \
    -Djava.io.tmpdir="$odir/tmp" \
    -Dopensearch.path.home="$home" \
    -Dopensearch.path.conf="$conf" \
    -Dchirp.component=opensearch -cp "$home/lib/*" org.opensearch.bootstrap.OpenSearch
}

start_one() {
  local comp=$1 pid
  if pid=$(running_pid "$comp"); then
    if port_open "$(comp_port "$comp")"; then
      say "$comp: already running (pid $pid, port $(comp_port "$comp"))"
    else
      say "$comp: already starting (pid $pid, port $(comp_port "$comp") not open yet); use 'infra.sh wait'"
    fi
    return 0
  fi
  rm -f "$(pid_file "$comp")"
  check_ports_free "$comp"
  fetch_one "$comp"
  rotate_logs "$comp"
  "start_$comp"
}

# ---------------------------------------------------------------- wait
wait_all() {
  local comps=("$@") pending=() c pid failed=0 start=$SECONDS deadline elapsed
  deadline=$((SECONDS + TIMEOUT))
  for c in "${comps[@]}"; do
    if running_pid "$c" >/dev/null; then
      pending+=("$c")
    elif [[ -f $(pid_file "$c") ]]; then
      # started by us and not stopped by us: it died
      err "$c: the JVM (pid $(<"$(pid_file "$c")")) is gone: it exited before '$(comp_ready_line "$c")' was seen or crashed later; log: $(comp_log "$c")"
      show_log_tail "$c"
      failed=1
    else
      err "$c: not running (start it with: infra/infra.sh start $c); log: $(comp_log "$c")"
      failed=1
    fi
  done
  while ((${#pending[@]} > 0)); do
    local still=()
    for c in "${pending[@]}"; do
      if ! pid=$(running_pid "$c"); then
        err "$c: the JVM exited during start-up, before '$(comp_ready_line "$c")' appeared; log: $(comp_log "$c")"
        show_log_tail "$c"
        failed=1
      elif port_open "$(comp_port "$c")" && grep -qF "$(comp_ready_line "$c")" "$(comp_log "$c")" 2>/dev/null; then
        elapsed=$(($(date +%s) - $(date -r "$(pid_file "$c")" +%s)))
        say "$c: ready (pid $pid, port $(comp_port "$c"); ${elapsed}s since start)"
      else
        still+=("$c")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for c in "${pending[@]}"; do
        err "$c: not ready after ${TIMEOUT}s (CHIRP_INFRA_TIMEOUT): waited for log line '$(comp_ready_line "$c")' in $(comp_log "$c") and TCP port 127.0.0.1:$(comp_port "$c")"
        show_log_tail "$c"
      done
      return 1
    fi
    sleep 1
  done
  ((failed == 0)) || return 1
  say "ready: ${comps[*]} ($((SECONDS - start))s waited)"
}

# ---------------------------------------------------------------- stop / status / clean
stop_all() {
  local c pid running=() i
  for c in "$@"; do
    if pid=$(running_pid "$c"); then
      say "$c: stopping (pid $pid, SIGTERM)"
      kill -TERM "$pid" 2>/dev/null || true
      running+=("$c:$pid")
    else
      say "$c: not running"
      rm -f "$(pid_file "$c")"
    fi
  done
  ((${#running[@]} > 0)) || return 0
  local t0=$SECONDS entry still deadline=$((SECONDS + STOP_TIMEOUT))
  while ((${#running[@]} > 0)); do
    still=()
    for entry in "${running[@]}"; do
      c=${entry%%:*}
      pid=${entry#*:}
      if ! kill -0 "$pid" 2>/dev/null; then
        say "$c: stopped ($((SECONDS - t0))s)"
        rm -f "$(pid_file "$c")"
      elif ((SECONDS >= deadline)); then
        err "$c: still alive after ${STOP_TIMEOUT}s (CHIRP_INFRA_STOP_TIMEOUT), sending SIGKILL to $pid"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$(pid_file "$c")"
      else
        still+=("$entry")
      fi
    done
    running=("${still[@]+"${still[@]}"}")
    if ((${#running[@]} > 0)); then sleep 0.2; fi
  done
  return 0
}

status_all() {
  local c pid state rc=0
  printf '%-10s %-9s %-8s %s\n' COMPONENT STATE PID PORT
  for c in "$@"; do
    if pid=$(running_pid "$c"); then
      if port_open "$(comp_port "$c")"; then state=up; else state=starting; rc=1; fi
    else
      # a pid file without its process means it died (stop removes the pid file)
      if [[ -f $(pid_file "$c") ]]; then state=dead; else state=down; fi
      pid=-
      rc=1
    fi
    printf '%-10s %-9s %-8s %s\n' "$c" "$state" "$pid" "$(comp_port "$c")"
  done
  return $rc
}

clean_all() {
  local with_jars=$1 c
  shift
  stop_all "$@"
  for c in "$@"; do
    rm -rf "${DATA_DIR:?}/$c"
    if [[ $c == opensearch ]]; then rm -rf "$(opensearch_stage)"; fi
    rm -f "$LOG_DIR/$c".* "$PID_DIR/$c.pid"
    say "$c: removed data ($DATA_DIR/$c) and logs"
    if ((with_jars)); then
      rm -rf "${JARS_DIR:?}/$c"
      say "$c: removed jars ($JARS_DIR/$c)"
    fi
  done
  rmdir "$LOG_DIR" "$JARS_DIR" 2>/dev/null || true
  return 0
}

# ---------------------------------------------------------------- main
main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || { usage >&2; exit 2; }
  shift
  case $cmd in -h | --help | help) usage; exit 0 ;; esac
  if [[ $cmd == nodetool ]]; then
    # nodetool talks JMX: only available when started with CHIRP_CASSANDRA_JMX_PORT set.
    [[ -n $CASSANDRA_JMX_PORT ]] || die "nodetool needs JMX: start Cassandra with CHIRP_CASSANDRA_JMX_PORT=7199 (and pass the same variable here)"
    need_java
    read_jvm_options "$INFRA_DIR/cassandra/jvm.options"
    exec "$JAVA" -Xmx256m "${JVM_OPTS[@]}" -Dlogback.configurationFile="$INFRA_DIR/cassandra/logback-tools.xml" -Duser.home="$DATA_DIR/cassandra" \
      -cp "$JARS_DIR/cassandra/*" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$CASSANDRA_JMX_PORT" "$@"
  fi

  local comps=() with_jars=0 a
  for a in "$@"; do
    case $a in
      kafka | cassandra | opensearch) if [[ " ${comps[*]-} " != *" $a "* ]]; then comps+=("$a"); fi ;;
      all) for a in kafka cassandra; do if [[ " ${comps[*]-} " != *" $a "* ]]; then comps+=("$a"); fi; done ;;
      --all) with_jars=1 ;;
      *) die "unknown argument '$a' (see: infra/infra.sh help)" ;;
    esac
  done
  if ((${#comps[@]} == 0)); then
    # OpenSearch is optional (SEARCH=opensearch): only stop and clean take it without being asked.
    case $cmd in stop | clean) comps=(kafka cassandra opensearch) ;; *) comps=(kafka cassandra) ;; esac
  fi

  case $cmd in
    fetch)
      lock
      for a in "${comps[@]}"; do fetch_one "$a"; done
      ;;
    start)
      need_java
      lock
      # Cassandra is the slow one: launch it first so all boot in parallel.
      if [[ " ${comps[*]} " == *" cassandra "* ]]; then start_one cassandra; fi
      if [[ " ${comps[*]} " == *" opensearch "* ]]; then start_one opensearch; fi
      if [[ " ${comps[*]} " == *" kafka "* ]]; then start_one kafka; fi
      if ((LAUNCHED)); then
        say "started in the background; run 'infra/infra.sh wait' to block until ready"
      fi
      ;;
    wait) wait_all "${comps[@]}" ;;
    stop)
      lock
      stop_all "${comps[@]}"
      ;;
    status) status_all "${comps[@]}" ;;
    clean)
      lock
      clean_all "$with_jars" "${comps[@]}"
      ;;
    *) die "unknown command '$cmd' (see: infra/infra.sh help)" ;;
  esac
}

main "$@"
