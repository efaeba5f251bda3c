#!/usr/bin/env bash
# A real Request Tracker 5 for the integration tests (tests/integration/test_rt_real.py).
#
# Debian bookworm's request-tracker5 on SQLite, served by its standalone PSGI server (Starlet)
# on 127.0.0.1 only, in its own process group. Needs root (apt, /etc/request-tracker5).
#
#   bash scripts/rt.sh start   install if needed, start, create an auth token, print the env
#   bash scripts/rt.sh env     print the env of the running server (exit 1 if it is not running)
#   bash scripts/rt.sh stop    stop the server (kills its whole process group)
#
#   eval "$(bash scripts/rt.sh start | grep '^RT_')"; export RT_URL RT_TOKEN
#
# Prints RT_URL=http://127.0.0.1:$RT_PORT and RT_TOKEN=... (also written to $RT_STATE/env).
# A second start while the server runs only prints the env.
# Env: RT_PORT (default 8082; 8081 is WordPress's), RT_STATE (default ${TMPDIR:-/tmp}/rtstate).
# Recipe: /work/shared/recipes/rt.sh.
set -euo pipefail
RT_PORT=${RT_PORT:-8082}
RT_STATE=${RT_STATE:-${TMPDIR:-/tmp}/rtstate}
RT_HOST=127.0.0.1
RT_URL="http://$RT_HOST:$RT_PORT"
PIDFILE=$RT_STATE/rt.pid
umask 077  # the state dir holds the token
mkdir -p "$RT_STATE"
ts() { date +%s.%N; }

running() {
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

token_works() {
  [ -s "$RT_STATE/token" ] && curl -fs -o /dev/null -H "Authorization: token $(cat "$RT_STATE/token")" \
    "$RT_URL/REST/2.0/queues/all"
}

print_env() {
  printf 'RT_URL=%s\nRT_TOKEN=%s\n' "$RT_URL" "$(cat "$RT_STATE/token")" | tee "$RT_STATE/env"
}

case "${1:-start}" in
  stop)
    if running; then
      pgid=$(cat "$PIDFILE")
      kill -- "-$pgid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
      kill -9 -- "-$pgid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    exit 0
    ;;
  env)
    if running && token_works; then print_env; exit 0; fi
    echo "RT is not running: bash scripts/rt.sh start" >&2
    exit 1
    ;;
  start) ;;
  *)
    echo "usage: bash scripts/rt.sh start|stop|env" >&2
    exit 2
    ;;
esac

if running; then
  if ! token_works; then
    echo "RT (pid $(cat "$PIDFILE")) runs but $RT_STATE/token is not accepted; stop and start again" >&2
    exit 1
  fi
  print_env
  exit 0
fi

T0=$(ts)
# 1. packages. policy-rc.d answers "not now" to every service start, so installing starts no
#    daemon (no Apache, no mail server); left in place for the other helpers' installs.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
if ! dpkg -s request-tracker5 rt5-db-sqlite rt5-standalone curl >/dev/null 2>&1; then
  # dbconfig-common creates and initialises the SQLite database during the install
  debconf-set-selections <<'SEL'
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/rtname string synchub.test
request-tracker5 request-tracker5/organization string synchub.test
request-tracker5 request-tracker5/initial-root-password password rootpass
request-tracker5 request-tracker5/correspondaddress string rt@synchub.test
request-tracker5 request-tracker5/commentaddress string rt-comment@synchub.test
SEL
  # another install may hold the dpkg lock: wait for it rather than fail
  apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends \
    request-tracker5 rt5-db-sqlite rt5-standalone curl >/dev/null
fi
T1=$(ts)

# 2. site config: served at / on loopback, UTC, no mail, warnings to the log
cat > /etc/request-tracker5/RT_SiteConfig.d/90-synchub.pm <<PERL
Set(\$WebPath, "");
Set(\$WebDomain, "$RT_HOST");
Set(\$WebPort, $RT_PORT);
Set(\$WebBaseURL, "$RT_URL");
Set(\$CanonicalizeRedirectURLs, 0);
Set(\$RestrictReferrer, 0);
Set(\$Timezone, "UTC");
Set(\$LogToSyslog, undef);
Set(\$LogToSTDERR, "warning");
Set(\$MailCommand, "testfile");   # never send mail: RT writes it to a temp file
# A test server: bcrypt at RT's default cost (12) makes every token check take half a second.
# Applies to hashes made from now on (the token below), not to root's install-time password.
Set(\$BcryptCost, 4);
1;
PERL
chmod 644 /etc/request-tracker5/RT_SiteConfig.d/90-synchub.pm

# 3. serve: setsid gives the server its own process group, so stop kills the workers too
setsid /usr/share/request-tracker5/libexec/rt-server --host "$RT_HOST" --port "$RT_PORT" \
  --max-workers 2 > "$RT_STATE/rt.log" 2>&1 < /dev/null &
echo $! > "$PIDFILE"
ready=
for _ in $(seq 1 240); do
  # up once REST2 answers; 401 without credentials (cheap: no password to hash)
  code=$(curl -s -o /dev/null -w '%{http_code}' "$RT_URL/REST/2.0/rt" || true)
  if [ "$code" = 401 ] || [ "$code" = 200 ]; then ready=1; break; fi
  running || break
  sleep 0.25
done
if [ -z "$ready" ]; then
  echo "RT did not come up on $RT_URL; see $RT_STATE/rt.log:" >&2
  tail -n 20 "$RT_STATE/rt.log" >&2
  exit 1
fi
T2=$(ts)

# 4. a REST2 auth token for root (RT::Authen::Token is built into RT 5): "Authorization: token X";
#    and the ticket custom field HubKey, applied to every queue (the connector's ticket_key_field,
#    which makes ticket creates idempotent). Reused across restarts while RT accepts the token.
if ! token_works; then
  perl -I/usr/share/request-tracker5/lib -e 'use RT; RT::LoadConfig(); RT::Init();
    my $u = RT::User->new(RT->SystemUser); $u->Load("root");
    # RT checks a token against each of the owner'"'"'s tokens (bcrypt each): keep only the new one
    my $old = RT::AuthTokens->new(RT->SystemUser); $old->LimitOwner(VALUE => $u->Id);
    while (my $t = $old->Next) { $t->Delete }
    my ($ok, $msg, $tok) = RT::AuthToken->new(RT::CurrentUser->new($u))->Create(
      Owner => $u->Id, Description => "seamless-hub integration tests");
    die "token: $msg\n" unless $ok;
    my $cf = RT::CustomField->new(RT->SystemUser);
    $cf->LoadByName(Name => "HubKey", LookupType => RT::Ticket->CustomFieldLookupType);
    unless ($cf->Id) {
      my ($cok, $cmsg) = $cf->Create(Name => "HubKey", Type => "Freeform", MaxValues => 1,
        LookupType => RT::Ticket->CustomFieldLookupType, Description => "Seamless Hub key");
      die "custom field: $cmsg\n" unless $cok;
    }
    unless ($cf->IsGlobal) {
      my ($aok, $amsg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
      die "custom field: $amsg\n" unless $aok;
    }
    print $tok' > "$RT_STATE/token.new" 2>>"$RT_STATE/rt.log"
  mv "$RT_STATE/token.new" "$RT_STATE/token"
  chmod 600 "$RT_STATE/token"
fi
T3=$(ts)
awk -v a="$T0" -v b="$T1" -v c="$T2" -v d="$T3" \
  'BEGIN{printf "# rt.sh: apt=%.1fs server=%.1fs token=%.1fs total=%.1fs\n",b-a,c-b,d-c,d-a}' >&2
print_env
