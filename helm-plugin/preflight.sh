#!/bin/sh
# helm preflight RELEASE CHART [--version V] [-f FILE]... [--set K=V]... [--set-string K=V]...
#                [--set-file K=F]... [--set-json K=J]... [-n NS] [--kube-context C] [--devel] [-- FLAGS...]
#   renders the upgrade for real: `helm pull` (unless CHART is a local directory or .tgz) and
#   `helm template RELEASE CHART --is-upgrade ...`, then pipes the manifests into
#   `upgrade-preflight check --manifest - --release NS/RELEASE --chart DIR [--values ...]`.
#   When helm itself fails (values schema, kubeVersion, a template error), its message is
#   reported as a blocker and the exit code is 1 (NO-GO).
# helm preflight RELEASE CHART_VERSION [-n NAMESPACE] [-f VALUES]... [--reuse-values] [-- FLAGS...]
#   (the second argument a version): judges the plan without rendering, as before:
#   `upgrade-preflight check --target release:NS/RELEASE=CHART_VERSION --values ...`.
#
# Exit codes are upgrade-preflight's (0 GO, 1 NO-GO, 2 invalid usage, 3 could not evaluate).
# Helm hands its global flags to plugins as environment variables:
#   HELM_NAMESPACE    (-n/--namespace)  -> the release's namespace
#   HELM_KUBECONTEXT  (--kube-context)  -> upgrade-preflight --context, helm --kube-context
#   KUBECONFIG        (--kubeconfig)    -> inherited; upgrade-preflight reads it like kubectl
#   HELM_BIN          the helm binary that runs the plugin (default: helm on PATH)
# -n/--namespace given to the plugin itself wins over HELM_NAMESPACE.
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: helm preflight RELEASE CHART [--version V] [-f VALUES.yaml]... [--set K=V]... [-n NAMESPACE] [-- FLAGS...]
       helm preflight RELEASE CHART_VERSION [-n NAMESPACE] [-f VALUES.yaml]... [--reuse-values] [-- FLAGS...]

  CHART                a chart reference (repo/name, oci://…, a directory or .tgz): the upgrade
                       is rendered with helm template --is-upgrade and judged object by object
  CHART_VERSION        a version: the plan is judged without rendering
  -n, --namespace NS   namespace of the release (default: $HELM_NAMESPACE)
  -f, --values FILE    values file you will pass to helm upgrade (repeatable; a,b allowed)
      --version V      chart version to render (with CHART)
      --set, --set-string, --set-file, --set-json K=V   passed to helm template (with CHART)
      --devel          allow development chart versions (with CHART)
      --kube-context C kubeconfig context (default: $HELM_KUBECONTEXT)
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
context=${HELM_KUBECONTEXT:-}
chart_version=
devel=
for arg in "$@"; do
    case $expect in
        ns) namespace=$arg; expect=; continue ;;
        ctx) context=$arg; expect=; continue ;;
        ver) chart_version=$arg; expect=; continue ;;
        values | set) expect=; continue ;;
        rest) continue ;;
    esac
    case $arg in
        -h | --help) usage ;;
        -n | --namespace) expect=ns ;;
        --namespace=*) namespace=${arg#--namespace=} ;;
        --kube-context) expect=ctx ;;
        --kube-context=*) context=${arg#--kube-context=} ;;
        --version) expect=ver ;;
        --version=*) chart_version=${arg#--version=} ;;
        --set | --set-string | --set-file | --set-json) expect=set ;;
        --set=* | --set-string=* | --set-file=* | --set-json=*) ;;
        --devel) devel=1 ;;
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
case $expect in ns | values | ctx | ver | set) die "a value is missing after the last flag" ;; esac
[ -n "$release" ] && [ -n "$version" ] || die "RELEASE and CHART_VERSION are required"
# The second argument is a version (plan only) or a chart (render).
render=1
case $version in
    [0-9]* | v[0-9]*) case $version in */* | *.tgz) ;; *) render= ;; esac ;;
esac
if [ -z "$render" ]; then
    [ -z "$chart_version$devel" ] || die "--version and --devel need a CHART, not a version"
fi
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

# Render mode: pull the chart, render the upgrade, judge the manifests. Called with the
# plugin's own arguments; the temporary directory is removed on exit.
render_and_check() {
    helm=${HELM_BIN:-helm}
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/helm-preflight.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT TERM
    ns=${namespace:-default}
    # Sort the arguments: helm template gets values and --set*, check gets the values files
    # (for values-schema) and everything after --.
    helm_args=
    check_args=
    rest_args=
    expect=
    for arg in "$@"; do
        case $expect in
            ns | ctx | ver) expect=; continue ;;
            values) expect=; arg=--values=$arg ;;
            set) expect=; helm_args="$helm_args $(quote "$arg")"; continue ;;
            rest) rest_args="$rest_args $(quote "$arg")"; continue ;;
        esac
        case $arg in
            -n | --namespace) expect=ns ;;
            --kube-context) expect=ctx ;;
            --version) expect=ver ;;
            -f | --values) expect=values ;;
            --set | --set-string | --set-file | --set-json) expect=set; helm_args="$helm_args $arg" ;;
            --set=* | --set-string=* | --set-file=* | --set-json=*) helm_args="$helm_args $(quote "$arg")" ;;
            --reuse-values) helm_args="$helm_args --reuse-values"; check_args="$check_args --reuse-values" ;;
            --) expect=rest ;;
        esac
        case $arg in
            --values=*)
                files=${arg#--values=}
                while :; do
                    f=${files%%,*}
                    helm_args="$helm_args --values $(quote "$f")"
                    check_args="$check_args --values $(quote "$ns/$release=$f")"
                    case $files in *,*) files=${files#*,} ;; *) break ;; esac
                done ;;
        esac
    done
    chart=$version
    # helm pull (or the local chart): --chart reads Chart.yaml, values.yaml, the schema, crds/.
    if [ -d "$chart" ] || [ -f "$chart" ]; then
        chart_dir=$chart
    else
        set -- pull "$chart" --untar --untardir "$tmp/chart"
        [ -n "$chart_version" ] && set -- "$@" --version "$chart_version"
        [ -n "$devel" ] && set -- "$@" --devel
        if ! "$helm" "$@" > "$tmp/pull.out" 2> "$tmp/helm.err"; then
            helm_failed "helm pull $chart"
        fi
        chart_dir=
        for d in "$tmp/chart"/*; do [ -d "$d" ] && chart_dir=$d; done
        if [ -z "$chart_dir" ]; then
            echo "helm pull wrote no chart directory" > "$tmp/helm.err"
            helm_failed "helm pull $chart"
        fi
    fi
    set -- template "$release" "$chart_dir" --namespace "$ns" --is-upgrade
    [ -n "$context" ] && set -- "$@" --kube-context "$context"
    [ -n "$devel" ] && set -- "$@" --devel
    eval "set -- \"\$@\" $helm_args"
    if ! "$helm" "$@" > "$tmp/manifest.yaml" 2> "$tmp/helm.err"; then
        helm_failed "helm template"
    fi
    set -- check --manifest - --release "$ns/$release" --chart "$chart_dir"
    [ -n "$context" ] && set -- "$@" --context "$context"
    eval "set -- \"\$@\" $check_args $rest_args"
    code=0
    "$bin" "$@" < "$tmp/manifest.yaml" || code=$?
    exit "$code"
}

# helm failed: its message (never our crash) as a blocker, NO-GO.
helm_failed() {
    echo "NO-GO: 1 blocker(s): helm-render-failed: $1 failed; helm says:" >&2
    sed 's/^/  /' "$tmp/helm.err" >&2
    echo "helm preflight: exit 1 (the upgrade as given would fail in helm itself)" >&2
    exit 1
}

# Shell-quotes one argument for eval.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# Pass 2: append the command line after the original arguments, then drop those.
orig=$#
count=$#
if [ -n "$render" ]; then
    render_and_check "$@"
fi
set -- "$@" check --target "release:$prefix$release=$version"
if [ -n "$context" ]; then
    set -- "$@" --context "$context"
fi
expect=
for arg in "$@"; do
    # The loop list holds the original arguments, then those just added: stop after the former.
    [ "$count" -gt 0 ] || break
    count=$((count - 1))
    case $expect in
        ns | ctx) expect=; continue ;;
        values) expect=; arg=--values=$arg ;;
        rest) set -- "$@" "$arg"; continue ;;
    esac
    case $arg in
        -n | --namespace) expect=ns ;;
        --kube-context) expect=ctx ;;
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
