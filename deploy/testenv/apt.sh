# Sourced by the deploy/testenv scripts: apt_install installs Debian/Ubuntu
# packages with apt-get, as root or through sudo, and leaves in SUDO the
# command prefix it used (empty as root) for what the caller runs after.
# The caller defines log.
#
# Usage: apt_install "what else the user can do without apt-get" pkg...

SUDO=()

apt_install() {
	local hint=$1
	shift
	if ! command -v apt-get >/dev/null 2>&1; then
		log "no apt-get here: install $* with your package manager"
		[ -z "$hint" ] || log "$hint"
		exit 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			log "installing packages needs root: run this script as root or install sudo"
			exit 1
		fi
		SUDO=(sudo)
	fi
	log "installing the Debian packages $* with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update
	"${SUDO[@]}" apt-get install -y --no-install-recommends "$@"
	log "installed $*"
}
