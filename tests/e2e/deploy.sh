#!/usr/bin/env bash
# What an operator deploys (docs/deploy.md):
#  1. `make install PREFIX=... DESTDIR=...`: the binary, the default model
#     and rules, the man page made from --help, the systemd unit naming the
#     installed binary, the environment file; the installed binary runs and
#     finds its default model by itself;
#  2. the unit passes `systemd-analyze verify` (no warning at all: a
#     misspelt option is a warning, and a broken copy of the unit shows the
#     check would see it) and `systemd-analyze security --offline` rates it
#     "OK" or better, with the hardening options present;
#  3. `make deb`: a .deb whose Depends are real, installed packages and
#     name the package of every library the binary links or dlopens, which
#     `dpkg --root` installs into a scratch root (and `dpkg-deb -x` unpacks):
#     `logify --version` and a classify run from there; dpkg removes and
#     purges it cleanly.
source "$(dirname "$0")/../lib.sh"
BUILD_DIR=$(cd "$(dirname "$LOGIFY")" && pwd)
for tool in systemd-analyze help2man dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (scripts/install-deps.sh installs systemd, help2man, dpkg-dev)" >&2
    exit 77
  fi
done
cd "$LOGIFY_ROOT"

# classify_with BIN: the installed binary classifies resources/test.csv with
# the model it finds on its own (no LOGIFY_MODEL, run from elsewhere)
classify_with() {
  (cd "$TMP" && env -u LOGIFY_MODEL "$1" classify "$LOGIFY_ROOT/resources/test.csv" --explain) \
    >"$TMP/cls.csv" 2>"$TMP/cls.err" || fail "classify with $1: $(cat "$TMP/cls.err")"
  [[ $(wc -l <"$TMP/cls.csv") -eq 21 ]] || fail "classify with $1: $(wc -l <"$TMP/cls.csv") lines"
  grep -q ",model,0\.[0-9]*,model p=" "$TMP/cls.csv" || fail "classify with $1: the default model was not used: $(cat "$TMP/cls.err")"
  grep -q ",rules,1\.0000,rule " "$TMP/cls.csv" || fail "classify with $1: no rule answered"
  ok
}

# sysroot_units ROOT: the systemd units a real root holds (the unit's
# dependencies, sysinit.target, network-online.target, ...), copied from
# this machine's systemd, ours left as installed
sysroot_units() {
  local dir=$1/usr/lib/systemd/system
  mkdir -p "$dir"
  for f in /lib/systemd/system/*; do
    [[ -e "$dir/$(basename "$f")" ]] || cp -r "$f" "$dir/"
  done
}

# check_unit ROOT UNIT_DIR BIN: verify, security, and what the unit says
check_unit() {
  local root=$1 udir=$2 bin=$3 unit="$1/$2/logify.service"
  [[ -f $unit ]] || fail "no unit at $unit"
  grep -qx "ExecStart=$bin serve \$LOGIFY_SERVE_ARGS" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
  for opt in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes ProtectHome=yes PrivateTmp=yes \
    PrivateDevices=yes CapabilityBoundingSet= RestrictAddressFamilies= SystemCallFilter=@system-service \
    MemoryDenyWriteExecute=yes StateDirectory=logify; do
    grep -q "^$opt" "$unit" || fail "unit lacks $opt"
  done
  sysroot_units "$root"
  if [[ $udir != usr/lib/systemd/system ]]; then
    # a prefix outside systemd's search path: the unit is linked in by the
    # operator (systemctl link, docs/deploy.md); here, a copy in /etc
    mkdir -p "$root/etc/systemd/system"
    cp "$unit" "$root/etc/systemd/system/logify.service"
    unit="$root/etc/systemd/system/logify.service"
  fi
  systemd-analyze verify --man=no --root="$root" logify.service >"$TMP/verify" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$TMP/verify")"
  [[ ! -s $TMP/verify ]] || fail "systemd-analyze verify warns: $(cat "$TMP/verify")"
  ok
  # the check can fail: a misspelt option, and a binary that is not there
  cp "$unit" "$TMP/unit.good"
  sed -i 's/^ProtectHome=yes/ProtectHome=yes\nProtectSystm=strict/' "$unit"
  systemd-analyze verify --man=no --root="$root" logify.service >"$TMP/verify" 2>&1 || true
  grep -q "Unknown key 'ProtectSystm'" "$TMP/verify" || fail "verify missed a misspelt key: $(cat "$TMP/verify")"
  sed -i "s|^ExecStart=$bin|ExecStart=$bin-missing|" "$unit"
  if systemd-analyze verify --man=no --root="$root" logify.service >"$TMP/verify" 2>&1; then
    fail "verify passed a unit whose binary is missing"
  fi
  cp "$TMP/unit.good" "$unit"
  ok
  systemd-analyze security --offline=yes --root="$root" logify.service >"$TMP/security" 2>&1 ||
    fail "systemd-analyze security: $(tail -5 "$TMP/security")"
  local level
  level=$(sed -n 's/.*Overall exposure level for logify.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' "$TMP/security")
  [[ -n $level ]] || fail "no exposure level: $(tail -3 "$TMP/security")"
  python3 -c "import sys; sys.exit(0 if float('${level% *}') <= 2.0 else 1)" ||
    fail "exposure level $level (want <= 2.0): $(grep '✗' "$TMP/security")"
  echo "unit in $root: exposure $level"
  ok
}

# ---- 1. make install ----------------------------------------------------------
make install BUILD="$BUILD_DIR" PREFIX=/opt/logify DESTDIR="$TMP/inst" >"$TMP/make.log" 2>&1 ||
  fail "make install: $(tail -20 "$TMP/make.log")"
P="$TMP/inst/opt/logify"
for f in bin/logify share/logify/models/default/meta.json share/logify/models/default/weights.bin \
  share/logify/rules/default.yaml share/man/man1/logify.1 lib/systemd/system/logify.service \
  etc/default/logify; do
  [[ -f $P/$f ]] || fail "make install did not install $f: $(find "$TMP/inst" -type f)"
done
[[ -x $P/bin/logify ]] || fail "bin/logify not executable"
cmp rules/default.yaml "$P/share/logify/rules/default.yaml" || fail "rules differ"
diff -r models/default "$P/share/logify/models/default" || fail "model differs"
grep -qx 'EnvironmentFile=-/opt/logify/etc/default/logify' "$P/lib/systemd/system/logify.service" ||
  fail "EnvironmentFile: $(grep EnvironmentFile "$P/lib/systemd/system/logify.service")"
ok
# the man page: from --help, every command in it, and it renders
grep -q '^\.TH LOGIFY "1"' "$P/share/man/man1/logify.1" || fail "man page header"
for cmd in classify rules cluster train eval serve embed model templates; do
  grep -q "^\.SS \"logify $cmd\"" "$P/share/man/man1/logify.1" || fail "man page lacks logify $cmd"
done
grep -q 'no\\-progress\|no-progress' "$P/share/man/man1/logify.1" || fail "man page lacks the options"
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww -z "$P/share/man/man1/logify.1" 2>"$TMP/groff" || fail "groff: $(cat "$TMP/groff")"
  [[ ! -s $TMP/groff ]] || fail "groff warns: $(head -5 "$TMP/groff")"
fi
ok
"$P/bin/logify" --version | grep -qE '^logify [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
classify_with "$P/bin/logify"
check_unit "$TMP/inst" opt/logify/lib/systemd/system /opt/logify/bin/logify

# ---- 2. make deb, installed into a scratch root ---------------------------------
make deb BUILD="$BUILD_DIR" DEB_OUT="$TMP/deb" >"$TMP/deb.log" 2>&1 || fail "make deb: $(tail -20 "$TMP/deb.log")"
deb=$(ls "$TMP"/deb/logify_*.deb)
dpkg-deb --info "$deb" >"$TMP/info"
grep -q '^ Package: logify$' "$TMP/info" || fail "deb: $(cat "$TMP/info")"
grep -q "^ Architecture: $(dpkg --print-architecture)$" "$TMP/info" || fail "deb architecture"
# Depends: the libraries' packages, each one installed here
depends=$(dpkg-deb -f "$deb" Depends)
# (not libjansson4: Jansson is linked statically, docs/templates.md "Start-up")
[[ $depends == *libc6* && $depends == *libvectorscan* ]] || fail "Depends: $depends"
for pkg in $(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/|.*//' | tr -d ' '); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    fail "deb depends on $pkg, which is not an installed package here"
done
# every library the binary names, linked or loaded with dlopen when a
# command needs it (libcurl, OpenBLAS, libmicrohttpd, librdkafka:
# dpkg-shlibdeps does not see those), has its package in Depends
sonames=$(strings -a "$LOGIFY" | grep -E '^lib[A-Za-z0-9_+.-]+\.so\.[0-9]+$' | sort -u)
grep -qx libcurl.so.4 <<<"$sonames" || fail "no dlopen'ed soname found in the binary: $sonames"
# (read from a file: awk's early exit would end a pipe from ldconfig with
# SIGPIPE, which pipefail + set -e turn into a silent failure under load)
ldconfig -p >"$TMP/ldconfig"
for so in $sonames; do
  path=$(awk -v so="$so" '$1 == so && /x86-64|x32|64/ {print $NF; exit}' "$TMP/ldconfig")
  [[ -n $path ]] || path=$(awk -v so="$so" '$1 == so {print $NF; exit}' "$TMP/ldconfig")
  [[ -n $path ]] || fail "$so: not found by ldconfig"
  real=$(readlink -f "$path") pkg=""
  for f in "$real" "$path" "/usr$path" "${real#/usr}"; do # usrmerge: /lib or /usr/lib
    [[ -n $pkg ]] || pkg=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1 || true)
  done
  [[ -n $pkg ]] || fail "$so: no package owns $real"
  # a package, or (OpenBLAS) the metapackage that depends on it
  grep -Eq "(^|, )$pkg( |,|$)" <<<"$depends" ||
    grep -Eq "(^|, )${pkg%-pthread}( |,|$)" <<<"$depends" || fail "deb Depends lacks $pkg (for $so): $depends"
done
dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}' >"$TMP/contents"
grep -q 'root/root ./usr/bin/logify$' "$TMP/contents" || fail "deb contents: $(cat "$TMP/contents")"
grep -q './usr/share/man/man1/logify.1.gz$' "$TMP/contents" || fail "deb: no man page"
[[ $(dpkg-deb -f "$deb" Version) == $("$LOGIFY" --version | awk '{print $2}') ]] || fail "deb version"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/default/logify || fail "deb conffiles"
ok

# dpkg-deb -x: the files as they land
dpkg-deb -x "$deb" "$TMP/x"
"$TMP/x/usr/bin/logify" --version >/dev/null || fail "unpacked --version"
classify_with "$TMP/x/usr/bin/logify"

# dpkg --root: installed as a package (the dependencies are this machine's,
# outside the root: --force-depends)
if [[ $(id -u) -eq 0 ]]; then
  R="$TMP/root"
  mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
  touch "$R/var/lib/dpkg/status"
  dpkg --root="$R" --force-depends --log=/dev/null -i "$deb" >"$TMP/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$TMP/dpkg.log")"
  dpkg --root="$R" -s logify | grep -q '^Status: install ok installed$' || fail "dpkg -s: $(dpkg --root="$R" -s logify)"
  dpkg --root="$R" -L logify | grep -qx /usr/bin/logify || fail "dpkg -L"
  "$R/usr/bin/logify" --version | grep -q "^logify " || fail "installed --version"
  classify_with "$R/usr/bin/logify"
  check_unit "$R" usr/lib/systemd/system /usr/bin/logify
  # remove keeps the conffile, purge takes it
  dpkg --root="$R" --force-depends --log=/dev/null -r logify >"$TMP/dpkg.log" 2>&1 || fail "dpkg -r: $(cat "$TMP/dpkg.log")"
  [[ ! -e $R/usr/bin/logify && -f $R/etc/default/logify ]] || fail "dpkg -r left the binary or took the conffile"
  dpkg --root="$R" --force-depends --log=/dev/null -P logify >"$TMP/dpkg.log" 2>&1 || fail "dpkg -P: $(cat "$TMP/dpkg.log")"
  [[ ! -e $R/etc/default/logify && ! -e $R/usr/share/logify ]] || fail "dpkg -P left files"
  ok
else
  echo "note: not root: dpkg --root skipped, dpkg-deb -x checked" >&2
fi
echo "deploy: $CHECKS checks passed"
