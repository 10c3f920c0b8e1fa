#!/usr/bin/env bash
# Installs Swiftlet as systemd services on this host (as root):
#   binaries  -> $PREFIX/bin (swiftlet), $PREFIX/libexec/swiftlet (swiftlet-shim, linked from bin), /opt/cni/bin (our CNI plugins)
#   units     -> /etc/systemd/system (swiftlet-agent.service, swiftlet-apiserver.service)
#   drop-ins  -> /etc/sysctl.d/90-swiftlet.conf, /etc/tmpfiles.d/swiftlet.conf (applied now)
#   defaults  -> /etc/default/swiftlet-{agent,apiserver} (arguments; kept if present)
# then `systemctl daemon-reload`. Nothing is enabled or started unless asked:
#   scripts/install.sh [--bin-dir DIR] [--prefix /usr/local] [--enable agent|apiserver|both] [--start]
# --bin-dir: where the built binaries are (default: `scripts/build-release.sh --show-bin-path`).
# Uninstall: scripts/install.sh --uninstall (stops and removes units and binaries; keeps state).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/usr/local bin_dir="" enable="" start=0 uninstall=0
ETC=${SWIFTLET_INSTALL_ETC:-/etc}
while (($#)); do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --enable) enable=$2; shift 2 ;;
    --start) start=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
have_systemd() { [[ -d /run/systemd/system ]]; }
units=(swiftlet-agent.service swiftlet-apiserver.service)

if ((uninstall)); then
  if have_systemd; then systemctl disable --now "${units[@]}" 2>/dev/null || true; fi
  for u in "${units[@]}"; do rm -f "$ETC/systemd/system/$u"; done
  rm -f "$ETC/sysctl.d/90-swiftlet.conf" "$ETC/tmpfiles.d/swiftlet.conf"
  rm -f "$PREFIX/bin/swiftlet" "$PREFIX/bin/swiftlet-shim"
  for p in swiftlet-bridge swiftlet-host-local swiftlet-loopback swiftlet-portmap; do rm -f "${CNI_BIN_DIR:-/opt/cni/bin}/$p"; done
  rm -rf "$PREFIX/libexec/swiftlet"
  if have_systemd; then systemctl daemon-reload; fi
  echo "uninstalled (state in /var/lib/swiftlet, /var/lib/swiftlet-apiserver and /var/log/pods kept)"
  exit 0
fi

if [[ -z $bin_dir ]]; then
  scripts/build-release.sh --product swiftlet >&2
  scripts/build-release.sh --product swiftlet-shim >&2
  for p in swiftlet-bridge swiftlet-host-local swiftlet-loopback swiftlet-portmap; do scripts/build-release.sh --product $p >&2; done
  bin_dir=$(scripts/build-release.sh --show-bin-path)
fi
for b in swiftlet swiftlet-shim; do
  [[ -x $bin_dir/$b ]] || { echo "install.sh: $bin_dir/$b missing (build first, or pass --bin-dir)" >&2; exit 1; }
done

install -d -m 0755 "$PREFIX/bin" "$PREFIX/libexec/swiftlet"
install -m 0755 "$bin_dir/swiftlet" "$PREFIX/bin/swiftlet"
# The agent starts the shim found beside its own executable; keep a copy there and in libexec.
install -m 0755 "$bin_dir/swiftlet-shim" "$PREFIX/libexec/swiftlet/swiftlet-shim"
ln -sf "../libexec/swiftlet/swiftlet-shim" "$PREFIX/bin/swiftlet-shim"
# Our CNI plugins, where the agent's --cni-bin-dir looks by default (and kubelets' plugins live).
install -d -m 0755 "${CNI_BIN_DIR:-/opt/cni/bin}"
for p in swiftlet-bridge swiftlet-host-local swiftlet-loopback swiftlet-portmap; do
  [[ -x $bin_dir/$p ]] && install -m 0755 "$bin_dir/$p" "${CNI_BIN_DIR:-/opt/cni/bin}/$p"
done

install -d -m 0755 "$ETC/systemd/system" "$ETC/sysctl.d" "$ETC/tmpfiles.d" "$ETC/default"
for u in "${units[@]}"; do
  sed "s|/usr/local/bin/swiftlet|$PREFIX/bin/swiftlet|g" "systemd/$u" >"$ETC/systemd/system/$u"
  chmod 0644 "$ETC/systemd/system/$u"
done
install -m 0644 systemd/sysctl.d/90-swiftlet.conf "$ETC/sysctl.d/90-swiftlet.conf"
install -m 0644 systemd/tmpfiles.d/swiftlet.conf "$ETC/tmpfiles.d/swiftlet.conf"
[[ -f $ETC/default/swiftlet-agent ]] || cat >"$ETC/default/swiftlet-agent" <<'DEFAULTS'
# Arguments for `swiftlet agent` (see `swiftlet agent --help`), e.g.
# SWIFTLET_AGENT_ARGS="--kubeconfig /etc/swiftlet/kubeconfig"
SWIFTLET_AGENT_ARGS=""
DEFAULTS
[[ -f $ETC/default/swiftlet-apiserver ]] || cat >"$ETC/default/swiftlet-apiserver" <<'DEFAULTS'
# Extra arguments for `swiftlet apiserver` (see `swiftlet apiserver --help`).
SWIFTLET_APISERVER_ARGS=""
DEFAULTS

if have_systemd; then
  systemd-tmpfiles --create "$ETC/tmpfiles.d/swiftlet.conf"
  systemctl restart systemd-sysctl.service
  systemctl daemon-reload
  case $enable in
    "") ;;
    agent) targets=(swiftlet-agent.service) ;;
    apiserver) targets=(swiftlet-apiserver.service) ;;
    both) targets=("${units[@]}") ;;
    *) echo "install.sh: --enable takes agent, apiserver or both" >&2; exit 2 ;;
  esac
  if [[ -n $enable ]]; then
    if ((start)); then systemctl enable --now "${targets[@]}"; else systemctl enable "${targets[@]}"; fi
  fi
else
  echo "install.sh: systemd is not running here: files installed, nothing reloaded or started" >&2
fi
echo "installed: $PREFIX/bin/swiftlet, units in $ETC/systemd/system"
