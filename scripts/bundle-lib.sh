# valuetask: what the device bundles share (sourced by scripts/device-*.sh).
#
#   bundle_libs DIR EXE...   copies every shared library the executables load
#                            into DIR/lib, except glibc's own (loader, libc,
#                            libm, ...), which go to DIR/glibc: they must
#                            match the target's loader, so they are never put
#                            on LD_LIBRARY_PATH, only kept for a fallback
#   bundle_info DIR EXE...   writes DIR/BUILD-INFO: when, where, commit,
#                            compiler, glibc, and the newest GLIBC_ symbol
#                            version the executables need

bundle_is_glibc() {
	case $1 in
	ld-linux*.so* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
		libresolv.so.* | libutil.so.* | libanl.so.* | libmvec.so.* | libBrokenLocale.so.*) return 0 ;;
	esac
	return 1
}

bundle_libs() {
	local dir=$1 lib name
	shift
	mkdir -p "$dir/lib" "$dir/glibc"
	for e in "$@"; do
		ldd "$e" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | sort -u | while read -r lib; do
		name=$(basename "$lib")
		if bundle_is_glibc "$name"; then
			cp -L "$lib" "$dir/glibc/$name"
		else
			cp -L "$lib" "$dir/lib/$name"
		fi
	done
}

bundle_info() {
	local dir=$1 root
	shift
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	{
		printf 'built %s on %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -n)"
		printf 'commit %s%s\n' "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
			"$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')"
		printf 'compiler %s\n' "$(cc --version | head -1)"
		printf 'glibc %s\n' "$(ldd --version | head -1)"
		printf 'needs %s\n' "$(objdump -T "$@" "$dir"/lib/*.so* 2>/dev/null |
			grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
	} >"$dir/BUILD-INFO"
}
