#!/usr/bin/env bash
# Installs and starts what the test suite needs beyond Python packages, then exports
# HOUSING_TEST_POSTGRES_URL. Source it (`source scripts/test-env.sh`); safe to run repeatedly.
#
# - PostgreSQL (Debian's package): the PostgreSQL path of the prediction log and the native
#   scale-out test. Set HOUSING_TEST_POSTGRES_URL yourself to use an existing server instead.
# - Chromium (Debian's package): renders the monitoring HTML report in a test.
# Installing needs root (as in CI); without it, missing pieces are reported and the tests that
# need them are skipped locally (they fail under CI=true).

_housing_apt_install() {
    local missing=()
    command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-env: not root, cannot install ${missing[*]}; tests that need them will skip" >&2
        return 0
    fi
    echo "test-env: installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_housing_start_postgres() {
    if [ -n "${HOUSING_TEST_POSTGRES_URL:-}" ]; then
        return 0
    fi
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    [ "$(id -u)" -eq 0 ] || return 0
    local cluster version name
    cluster=$(pg_lsclusters --no-header | head -n 1)
    if [ -z "$cluster" ]; then
        version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
        pg_createcluster "$version" main >/dev/null
        cluster=$(pg_lsclusters --no-header | head -n 1)
    fi
    version=$(echo "$cluster" | awk '{print $1}')
    name=$(echo "$cluster" | awk '{print $2}')
    port=$(echo "$cluster" | awk '{print $3}')
    if ! echo "$cluster" | grep -q online; then
        pg_ctlcluster "$version" "$name" start
    fi
    for _ in $(seq 1 30); do
        runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 0.5
    done
    runuser -u postgres -- psql -q -p "$port" -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'housing_test') THEN
    CREATE ROLE housing_test LOGIN SUPERUSER PASSWORD 'housing_test';
  END IF;
END $$;
SQL
    runuser -u postgres -- psql -q -p "$port" -tc \
        "SELECT 1 FROM pg_database WHERE datname = 'housing_test'" | grep -q 1 \
        || runuser -u postgres -- createdb -p "$port" -O housing_test housing_test
    export HOUSING_TEST_POSTGRES_URL="postgresql+psycopg://housing_test:housing_test@127.0.0.1:${port}/housing_test"
    echo "test-env: PostgreSQL ${version}/${name} on 127.0.0.1:${port}" >&2
}

_housing_apt_install
_housing_start_postgres
