#!/bin/sh
# helm preflight RELEASE CHART_VERSION [-n NAMESPACE] [-f VALUES]... [--reuse-values] [-- FLAGS...]
#
# Runs `upgrade-preflight check` for a planned `helm upgrade RELEASE CHART --version
# CHART_VERSION -f VALUES...` and exits with its exit code (0 GO, 1 NO-GO, 2 invalid usage,
# 3 could not evaluate). Helm hands its global flags to plugins as environment variables:
#   HELM_NAMESPACE    (-n/--namespace)  -> the release's namespace
#   HELM_KUBECONTEXT  (--kube-context)  -> upgrade-preflight --context
#   KUBECONFIG        (--kubeconfig)    -> inherited; upgrade-preflight reads it like kubectl
# -n/--namespace given to the plugin itself wins over HELM_NAMESPACE.
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: helm preflight RELEASE CHART_VERSION [-n NAMESPACE] [-f VALUES.yaml]... [--reuse-values] [-- FLAGS...]

  -n, --namespace NS   namespace of the release (default: $HELM_NAMESPACE)
  -f, --values FILE    values file you will pass to helm upgrade (repeatable; a,b allowed)
      --reuse-values   you will run helm upgrade --reuse-values
  -- FLAGS...          passed to `upgrade-preflight check` unchanged, e.g. -- -o markdown
USAGE
    exit 2
}

die() {
    echo "helm preflight: $*" >&2
    usage
}

# Pass 1: positionals and the namespace (values files need it, whatever the order).
namespace=${HELM_NAMESPACE:-}
release=
version=
expect=
for arg in "$@"; do
    case $expect in
        ns) namespace=$arg; expect=; continue ;;
        values) expect=; continue ;;
        rest) continue ;;
    esac
    case $arg in
        -h | --help) usage ;;
        -n | --namespace) expect=ns ;;
        --namespace=*) namespace=${arg#--namespace=} ;;
        -f | --values) expect=values ;;
        --values=* | --reuse-values) ;;
        --) expect=rest ;;
        -*) die "unknown flag $arg (pass upgrade-preflight flags after --)" ;;
        *)
            if [ -z "$release" ]; then release=$arg
            elif [ -z "$version" ]; then version=$arg
            else die "unexpected argument $arg"
            fi ;;
    esac
done
case $expect in ns | values) die "a value is missing after the last flag" ;; esac
[ -n "$release" ] && [ -n "$version" ] || die "RELEASE and CHART_VERSION are required"
case $release in */*) die "RELEASE is a release name; give its namespace with -n" ;; esac

prefix=
[ -n "$namespace" ] && prefix="$namespace/"

bin=${UPGRADE_PREFLIGHT:-}
if [ -z "$bin" ]; then
    if command -v upgrade-preflight >/dev/null 2>&1; then
        bin=upgrade-preflight
    elif [ -n "${HELM_PLUGIN_DIR:-}" ] && [ -x "$HELM_PLUGIN_DIR/bin/upgrade-preflight" ]; then
        bin=$HELM_PLUGIN_DIR/bin/upgrade-preflight
    else
        echo "helm preflight: upgrade-preflight is not on PATH (or set UPGRADE_PREFLIGHT)" >&2
        exit 2
    fi
fi

# Pass 2: append the command line after the original arguments, then drop those.
orig=$#
count=$#
set -- "$@" check --target "release:$prefix$release=$version"
if [ -n "${HELM_KUBECONTEXT:-}" ]; then
    set -- "$@" --context "$HELM_KUBECONTEXT"
fi
expect=
for arg in "$@"; do
    # The loop list holds the original arguments, then those just added: stop after the former.
    [ "$count" -gt 0 ] || break
    count=$((count - 1))
    case $expect in
        ns) expect=; continue ;;
        values) expect=; arg=--values=$arg ;;
        rest) set -- "$@" "$arg"; continue ;;
    esac
    case $arg in
        -n | --namespace) expect=ns ;;
        -f | --values) expect=values ;;
        --values=*)
            # Like helm, a comma separates several files.
            files=${arg#--values=}
            while :; do
                set -- "$@" --values "$prefix$release=${files%%,*}"
                case $files in *,*) files=${files#*,} ;; *) break ;; esac
            done ;;
        --reuse-values) set -- "$@" --reuse-values ;;
        --) expect=rest ;;
    esac
done
shift "$orig"
exec "$bin" "$@"
