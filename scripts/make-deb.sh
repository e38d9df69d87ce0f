#!/usr/bin/env bash
# make-deb.sh BUILD_DIR OUT_DIR - a Debian package of Logify from a build
# directory (`make deb`; docs/deploy.md): `cmake --install --prefix /usr
# --strip` into a staging root (binary, default model and rules, man page,
# systemd unit, /etc/default/logify), a control file whose Depends come
# from dpkg-shlibdeps (the libraries the binary links, and those it loads
# with dlopen, through logify-dlopen-deps), then dpkg-deb
# with root-owned files. No maintainer scripts: installing enables and
# starts nothing (docs/deploy.md says how). Prints the .deb's path.
set -euo pipefail
build=${1:?usage: make-deb.sh BUILD_DIR OUT_DIR}
out=${2:?usage: make-deb.sh BUILD_DIR OUT_DIR}
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null ||
    { echo "make-deb.sh: $tool is missing (scripts/install-deps.sh installs dpkg-dev)" >&2; exit 1; }
done
build=$(cd "$build" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

DESTDIR="$root" cmake --install "$build" --prefix /usr --strip >"$work/install.log" ||
  { cat "$work/install.log" >&2; exit 1; }
version=$("$root/usr/bin/logify" --version | awk '{print $2}')
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "make-deb.sh: odd version '$version'" >&2; exit 1; }
arch=$(dpkg --print-architecture)

# Debian's places: man pages compressed, a copyright note, conffiles
gzip -9n "$root/usr/share/man/man1/logify.1"
mkdir -p "$root/usr/share/doc/logify"
cat >"$root/usr/share/doc/logify/copyright" <<'TXT'
Logify: a hybrid log-classification engine and service.
Built from the Logify source tree; see README.md there.
TXT
cat >"$root/usr/share/doc/logify/README.Debian" <<'TXT'
logify for Debian
-----------------
logify.service (logify serve) is installed but neither enabled nor started:
  edit /etc/default/logify (LOGIFY_SERVE_ARGS, LOGIFY_API_KEY, ...), then
  systemctl daemon-reload && systemctl enable --now logify
The default model bundle is /usr/share/logify/models/default, the built-in
rules /usr/share/logify/rules/default.yaml; man logify lists every command.
TXT

# Depends: what the binary links, as dpkg-shlibdeps names it, and the
# libraries it loads with dlopen when a command needs them (libcurl,
# OpenBLAS, libmicrohttpd, librdkafka: include/logify/dynlib.h), which
# dpkg-shlibdeps cannot see in the binary: logify-dlopen-deps (built
# beside it, not installed) links those
dlopen_deps=$build/logify-dlopen-deps
[[ -x $dlopen_deps ]] || { echo "make-deb.sh: $dlopen_deps is missing (cmake --build $build)" >&2; exit 1; }
mkdir -p "$work/src/debian"
printf 'Source: logify\n\nPackage: logify\nArchitecture: any\n' >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O -e"$root/usr/bin/logify" -e"$dlopen_deps" 2>"$work/shlibdeps.err" |
  sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.err" >&2; exit 1; }
[[ -n $depends ]] || { echo "make-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$root/DEBIAN"
find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%P\0' |
  (cd "$root" && xargs -0 md5sum) >"$root/DEBIAN/md5sums"
echo /etc/default/logify >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CTL
Package: logify
Version: $version
Architecture: $arch
Maintainer: Logify maintainers <logify@localhost>
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: hybrid log classification engine and service
 Logify labels log lines with rules (Vectorscan), a trained model (hashed
 n-grams or a Sentence-BERT encoder, with logistic regression or a linear
 SVM) and optionally an LLM through an OpenAI-compatible API. Commands:
 classify, train, eval, cluster, templates, embed, and serve (an HTTP
 service, installed as the hardened systemd unit logify.service).
CTL
deb="$out/logify_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
