#!/usr/bin/env bash
# A real WordPress for the integration tests (tests/integration/test_wordpress_real.py).
#
# Debian bookworm's wordpress package on the MariaDB server this machine already runs
# (127.0.0.1:3306, root over the socket), served by PHP's built-in server on 127.0.0.1 only, in
# its own process group. Needs root (apt, /etc/wordpress, the database's root account).
#
#   bash scripts/wordpress.sh start   install if needed, start, create an Application Password, print the env
#   bash scripts/wordpress.sh env     print the env of the running server (exit 1 if it is not running)
#   bash scripts/wordpress.sh stop    stop the server (kills its whole process group)
#
#   export $(bash scripts/wordpress.sh start)      # the values hold no spaces
#
# Prints WP_URL=http://127.0.0.1:$WP_PORT, WP_USER=admin and WP_APP_PASSWORD=... (also written to
# $WP_STATE/env); timings go to stderr. A second start while the server runs only prints the env.
# No MariaDB answering on the socket or on 127.0.0.1:3306 (a fresh machine): the script installs
# mariadb-server and runs its own instance in $WP_STATE on 127.0.0.1:$WP_DB_PORT, stopped by stop
# (WP_DB=own does so even when the machine has one).
# Env: WP_PORT (default 8081; 8082 is Request Tracker's), WP_STATE (default ${TMPDIR:-/tmp}/wpstate),
#      WP_DB (auto or own), WP_DB_PORT (own MariaDB only, default 3307).
# One site per machine: Debian's WordPress reads /etc/wordpress/config-<host>.php, which start writes.
# Recipe: /work/shared/recipes/wordpress.sh.
set -euo pipefail
WP_PORT=${WP_PORT:-8081}
WP_STATE=${WP_STATE:-${TMPDIR:-/tmp}/wpstate}
WP_DB_PORT=${WP_DB_PORT:-3307}
WP_DB=${WP_DB:-auto}
WP_HOST=127.0.0.1
WP_URL="http://$WP_HOST:$WP_PORT"
WP_USER=admin
PIDFILE=$WP_STATE/php.pid
DB_PIDFILE=$WP_STATE/mariadb.pid   # only when this script started its own MariaDB
mkdir -p "$WP_STATE"
ts() { date +%s.%N; }

running() {
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

password_works() {
  [ -s "$WP_STATE/app_password" ] && curl -fs -o /dev/null -u "$WP_USER:$(cat "$WP_STATE/app_password")" \
    "$WP_URL/wp-json/wp/v2/users/me?context=edit"
}

print_env() {
  printf 'WP_URL=%s\nWP_USER=%s\nWP_APP_PASSWORD=%s\n' "$WP_URL" "$WP_USER" "$(cat "$WP_STATE/app_password")" \
    | tee "$WP_STATE/env"
}

stop_group() {  # $1: pid file of a process started with setsid (its pid is its group id)
  [ -s "$1" ] || return 0
  local pgid
  pgid=$(cat "$1")
  if kill -0 "$pgid" 2>/dev/null; then
    kill -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
    kill -9 -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$1"
}

case "${1:-start}" in
  stop)
    stop_group "$PIDFILE"
    stop_group "$DB_PIDFILE"
    exit 0
    ;;
  env)
    if running && password_works; then print_env; exit 0; fi
    echo "WordPress is not running: bash scripts/wordpress.sh start" >&2
    exit 1
    ;;
  start) ;;
  *)
    echo "usage: bash scripts/wordpress.sh start|stop|env" >&2
    exit 2
    ;;
esac

if running; then
  if ! password_works; then
    echo "WordPress (pid $(cat "$PIDFILE")) runs but the password in $WP_STATE/app_password is refused;" \
      "stop and start again" >&2
    exit 1
  fi
  print_env
  exit 0
fi

T0=$(ts)
# 1. packages. policy-rc.d answers "not now" to every service start, so installing starts no
#    daemon (the wordpress package pulls in Apache); left in place for the other helpers' installs.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
PACKAGES="wordpress php-cli php-mysql php-curl php-xml php-mbstring mariadb-client curl"
# shellcheck disable=SC2086
if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
  # man-db reindexes every manual page after each install (seconds here): not on a test machine
  echo "man-db man-db/auto-update boolean false" | debconf-set-selections
  # another install may hold the dpkg lock: wait for it rather than fail. unsafe-io skips the
  # fsyncs a throwaway test machine does not need (a third off the install).
  # shellcheck disable=SC2086
  apt-get install -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-unsafe-io \
    --no-install-recommends $PACKAGES >/dev/null
fi
T1=$(ts)

# 2. the database: the machine's MariaDB (root over the socket, else over TCP with no password);
#    failing both, an instance of our own in $WP_STATE.
DB_HOST=127.0.0.1:3306
if [ "$WP_DB" != own ] && mariadb -uroot -e 'select 1' >/dev/null 2>&1; then
  sql() { mariadb -uroot; }
elif [ "$WP_DB" != own ] && mariadb -uroot -h127.0.0.1 -P3306 -e 'select 1' >/dev/null 2>&1; then
  sql() { mariadb -uroot -h127.0.0.1 -P3306; }
else
  if ! dpkg -s mariadb-server >/dev/null 2>&1; then
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends mariadb-server >/dev/null
  fi
  DBDIR=$WP_STATE/db   # owned by mysql: the data, the socket and the log
  DATADIR=$DBDIR/data
  SOCK=$DBDIR/mysqld.sock
  mkdir -p "$DBDIR"
  chown mysql:mysql "$DBDIR"
  if [ ! -d "$DATADIR/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$DATADIR" --auth-root-authentication-method=socket >/dev/null
  fi
  chown -R mysql:mysql "$DBDIR"
  if ! { [ -s "$DB_PIDFILE" ] && kill -0 "$(cat "$DB_PIDFILE")" 2>/dev/null; }; then
    setsid /usr/sbin/mariadbd --user=mysql --datadir="$DATADIR" --socket="$SOCK" \
      --bind-address=127.0.0.1 --port="$WP_DB_PORT" --skip-name-resolve \
      --pid-file="$DBDIR/mariadbd.pid" --log-error="$DBDIR/mariadb.err" \
      > "$WP_STATE/mariadb.out" 2>&1 < /dev/null &
    echo $! > "$DB_PIDFILE"
  fi
  for _ in $(seq 1 120); do mariadb --socket="$SOCK" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.25; done
  if ! mariadb --socket="$SOCK" -uroot -e 'select 1' >/dev/null 2>&1; then
    echo "MariaDB did not come up on $SOCK; see $DBDIR/mariadb.err:" >&2
    tail -n 20 "$DBDIR/mariadb.err" >&2 || true
    exit 1
  fi
  sql() { mariadb --socket="$SOCK" -uroot; }
  DB_HOST=127.0.0.1:$WP_DB_PORT
fi
sql <<'SQL'
CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'wp'@'127.0.0.1' IDENTIFIED BY 'wppass';
CREATE USER IF NOT EXISTS 'wp'@'localhost' IDENTIFIED BY 'wppass';
GRANT ALL ON wordpress.* TO 'wp'@'127.0.0.1';
GRANT ALL ON wordpress.* TO 'wp'@'localhost';
FLUSH PRIVILEGES;
SQL
T2=$(ts)

# 3. Debian's wp-config.php reads /etc/wordpress/config-<HTTP_HOST without the port>.php and
#    falls back to config-default.php: write the names this server is reached by.
CONFIG=$(cat <<PHP
<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wp');
define('DB_PASSWORD', 'wppass');
define('DB_HOST', '$DB_HOST');
define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');
define('WP_HOME', '$WP_URL');
define('WP_SITEURL', '$WP_URL');
define('WP_ENVIRONMENT_TYPE', 'local');   // Application Passwords over plain http
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);   // no calls to wordpress.org
define('DISABLE_WP_CRON', true);
PHP
)
for name in 127.0.0.1 localhost default; do
  printf '%s\n' "$CONFIG" > "/etc/wordpress/config-$name.php"
done

# 4. install the site (once), pretty permalinks (/wp-json/...), and a fresh Application Password
#    for admin; no wp-cli in Debian, so plain PHP.
cat > "$WP_STATE/setup.php" <<'PHP'
<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (!is_blog_installed()) {
  wp_install('Seamless Hub Test', 'admin', 'admin@example.com', true, '', wp_generate_password(20));
}
update_option('permalink_structure', '/%postname%/');
update_option('comment_moderation', 0);
update_option('comment_previously_approved', 0);
$user = get_user_by('login', 'admin');
foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
  WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);
}
list($password) = WP_Application_Passwords::create_new_application_password($user->ID, array('name' => 'seamless-hub-tests'));
if (is_wp_error($password)) { fwrite(STDERR, $password->get_error_message() . "\n"); exit(1); }
file_put_contents(getenv('WP_STATE') . '/app_password.new', $password);
PHP
WP_STATE=$WP_STATE php "$WP_STATE/setup.php" > "$WP_STATE/setup.log" 2>&1 || {
  echo "installing WordPress failed; see $WP_STATE/setup.log:" >&2
  tail -n 20 "$WP_STATE/setup.log" >&2
  exit 1
}
mv "$WP_STATE/app_password.new" "$WP_STATE/app_password"
chmod 600 "$WP_STATE/app_password"
T3=$(ts)

# 5. serve: php -S hands every path that is not a file to index.php, so /wp-json/... works.
#    setsid gives the server its own process group, so stop kills the workers too.
PHP_CLI_SERVER_WORKERS=4 setsid php -S "$WP_HOST:$WP_PORT" -t /usr/share/wordpress \
  > "$WP_STATE/php.log" 2>&1 < /dev/null &
echo $! > "$PIDFILE"
ready=
for _ in $(seq 1 120); do
  if password_works; then ready=1; break; fi
  running || break
  sleep 0.25
done
if [ -z "$ready" ]; then
  echo "WordPress did not come up on $WP_URL; see $WP_STATE/php.log:" >&2
  tail -n 20 "$WP_STATE/php.log" >&2
  exit 1
fi
T4=$(ts)
awk -v a="$T0" -v b="$T1" -v c="$T2" -v d="$T3" -v e="$T4" \
  'BEGIN{printf "# wordpress.sh: apt=%.1fs db=%.1fs install=%.1fs http_ready=%.1fs total=%.1fs\n",b-a,c-b,d-c,e-d,e-a}' >&2
print_env
