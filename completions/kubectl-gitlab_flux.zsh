#compdef kubectl-gitlab_flux

autoload -U is-at-least

_kubectl-gitlab_flux() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_kubectl-gitlab_flux_commands" \
"*::: :->kubectl-gitlab_flux" \
&& ret=0
    case $state in
    (kubectl-gitlab_flux)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kubectl-gitlab_flux-command-$line[1]:"
        case $line[1] in
            (push)
_arguments "${_arguments_options[@]}" : \
'*-t+[Also tag the artifact with TAG (repeatable); blobs are uploaded once]:TAG:_default' \
'*--tag=[Also tag the artifact with TAG (repeatable); blobs are uploaded once]:TAG:_default' \
'*--ignore=[Ignore files matching PATTERN, gitignore syntax (repeatable), on top of the Flux defaults and .sourceignore files]:PATTERN:_default' \
'*-a+[Add the manifest annotation KEY=VALUE (repeatable; overrides computed ones)]:KEY=VALUE:_default' \
'*--annotation=[Add the manifest annotation KEY=VALUE (repeatable; overrides computed ones)]:KEY=VALUE:_default' \
'--source=[Source URL annotation (default\: CI_PROJECT_URL or the git remote origin)]:URL:_default' \
'--revision=[Revision annotation, e.g. main@sha1\:<commit> (default\: from GitLab CI or the git checkout)]:REVISION:_default' \
'--created=[Creation time annotation, RFC 3339 (default\: CI_COMMIT_TIMESTAMP or the commit time, else now)]:TIME:_default' \
'(-u --username --password-stdin)--creds=[Registry credentials as USER\:PASSWORD (prefer --password-stdin\: flags show up in process lists)]:USER:PASSWORD:_default' \
'-u+[Registry user name; the password is read from stdin with --password-stdin]:USER:_default' \
'--username=[Registry user name; the password is read from stdin with --password-stdin]:USER:_default' \
'--ca-file=[PEM file with extra CA certificates to trust for the registry]:FILE:_files' \
'--timeout=[Give up after DURATION, retries included]:DURATION:_default' \
'--dotenv=[Write KEY=VALUE lines for GitLab'\''s artifacts\:reports\:dotenv (ARTIFACT_URL, ARTIFACT_DIGEST, …)]:FILE:_files' \
'--wait-timeout=[With --wait\: give up waiting after DURATION (exit 3)]:DURATION:_default' \
'--junit=[Write a JUnit XML report (one testcase per object) for GitLab'\''s test reports]:FILE:_files' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--helm-chart[Package PATH as a Helm chart in Helm'\''s OCI format (automatic when PATH holds Chart.yaml)]' \
'--no-validate[Do not check that every .yaml/.yml file parses before pushing]' \
'--dry-run[Show the files, layer digest and manifest that would be pushed; upload nothing]' \
'--skip-unchanged[Push nothing when the first tag already holds an artifact with the same content]' \
'--password-stdin[Read the registry password (or token) from stdin]' \
'--insecure-registry[Allow plain HTTP for this registry (loopback registries are always allowed)]' \
'--trigger[Then trigger everything that consumes the artifact (as \`trigger --artifact\`)]' \
'--wait[Then (after triggering) wait for the consumers (as \`wait --artifact\`)]' \
'--dependents[With --trigger/--wait\: also follow what dependsOn the consumers]' \
'-A[With --trigger/--wait\: look for consumers in all namespaces]' \
'--all-namespaces[With --trigger/--wait\: look for consumers in all namespaces]' \
'--health[Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out]' \
'--no-inventory[Do not follow Flux objects listed in Kustomization inventories]' \
'--no-fail-fast[Keep waiting through failures (the controller retries) until the timeout]' \
'--ignore-suspended[Skip suspended objects instead of failing on them]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':path -- Directory (or single file) of manifests to package:_files' \
':reference -- Where to push\: oci\://REGISTRY/REPOSITORY\[\:TAG\] (default tag in GitLab CI\: the short commit SHA, else latest):_default' \
&& ret=0
;;
(tag)
_arguments "${_arguments_options[@]}" : \
'(-u --username --password-stdin)--creds=[Registry credentials as USER\:PASSWORD (prefer --password-stdin\: flags show up in process lists)]:USER:PASSWORD:_default' \
'-u+[Registry user name; the password is read from stdin with --password-stdin]:USER:_default' \
'--username=[Registry user name; the password is read from stdin with --password-stdin]:USER:_default' \
'--ca-file=[PEM file with extra CA certificates to trust for the registry]:FILE:_files' \
'--timeout=[Give up after DURATION, retries included]:DURATION:_default' \
'--dotenv=[Write KEY=VALUE lines for GitLab'\''s artifacts\:reports\:dotenv (the keys push writes, for the first NEW_TAG)]:FILE:_files' \
'--wait-timeout=[With --wait\: give up waiting after DURATION (exit 3)]:DURATION:_default' \
'--junit=[Write a JUnit XML report (one testcase per object) for GitLab'\''s test reports]:FILE:_files' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--any-media-type[Also tag artifacts that are neither Flux artifacts nor Helm charts (any image or index)]' \
'--password-stdin[Read the registry password (or token) from stdin]' \
'--insecure-registry[Allow plain HTTP for this registry (loopback registries are always allowed)]' \
'--trigger[Then trigger everything that consumes the artifact (as \`trigger --artifact\`)]' \
'--wait[Then (after triggering) wait for the consumers (as \`wait --artifact\`)]' \
'--dependents[With --trigger/--wait\: also follow what dependsOn the consumers]' \
'-A[With --trigger/--wait\: look for consumers in all namespaces]' \
'--all-namespaces[With --trigger/--wait\: look for consumers in all namespaces]' \
'--health[Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out]' \
'--no-inventory[Do not follow Flux objects listed in Kustomization inventories]' \
'--no-fail-fast[Keep waiting through failures (the controller retries) until the timeout]' \
'--ignore-suspended[Skip suspended objects instead of failing on them]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':reference -- The artifact\: oci\://REGISTRY/REPOSITORY\[\:TAG\]\[@sha256\:DIGEST\], e.g. $ARTIFACT_URL of push:_default' \
'*::tags -- Tags to point at the artifact, in its repository (one or more):_default' \
&& ret=0
;;
(trigger)
_arguments "${_arguments_options[@]}" : \
'--artifact=[Select what consumes this artifact\: oci\://REGISTRY/REPO\[\:TAG\]\[@sha256\:DIGEST\] (the \`url\` that push prints)\: matching OCIRepositories, then the Kustomizations and HelmReleases that use them]:OCI-URL:_default' \
'--receiver=[Call a Flux Receiver webhook instead of annotating objects (needs no cluster access)]:URL:_default' \
'--receiver-type=[How the Receiver validates calls]:RECEIVER_TYPE:((generic\:"No validation beyond the secret path"
generic-hmac\:"X-Signature\: sha256=<HMAC of the body>"
gitlab\:"X-Gitlab-Token\: <token>"))' \
'--gitlab-event=[The X-Gitlab-Event a gitlab Receiver is called with; it must be one of its spec.events, when it lists some]:EVENT:_default' \
'(--token-env)--token-file=[Read the Receiver token from FILE]:FILE:_files' \
'--token-env=[Read the Receiver token from the environment variable NAME (default\: stdin)]:NAME:_default' \
'--dotenv=[Write KEY=VALUE lines (FLUX_RECONCILE_TOKEN, …) for GitLab'\''s artifacts\:reports\:dotenv]:FILE:_files' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--dependents[Also select everything that dependsOn the selected objects, transitively]' \
'-A[Look in all namespaces]' \
'--all-namespaces[Look in all namespaces]' \
'--force[HelmReleases\: force a one-off install or upgrade (reconcile.fluxcd.io/forceAt)]' \
'--reset[HelmReleases\: reset the failure counters (reconcile.fluxcd.io/resetAt)]' \
'--fail-on-suspended[Fail instead of skipping selected objects that are suspended]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::objects -- Objects as KIND/NAME\: ocirepository|ocirepo|oci, kustomization|ks, helmrelease|hr, gitrepository|gitrepo, bucket, helmrepository|helmrepo, helmchart:_default' \
&& ret=0
;;
(wait)
_arguments "${_arguments_options[@]}" : \
'--artifact=[Select what consumes this artifact\: oci\://REGISTRY/REPO\[\:TAG\]\[@sha256\:DIGEST\] (the \`url\` that push prints)\: matching OCIRepositories, then the Kustomizations and HelmReleases that use them]:OCI-URL:_default' \
'--since-token=[Demand that this reconcile request (printed by \`trigger\`) was handled]:TOKEN:_default' \
'--timeout=[Give up after DURATION (exit 3), listing what each object still waits for]:DURATION:_default' \
'--junit=[Write a JUnit XML report (one testcase per object) for GitLab'\''s test reports]:FILE:_files' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--dependents[Also select everything that dependsOn the selected objects, transitively]' \
'-A[Look in all namespaces]' \
'--all-namespaces[Look in all namespaces]' \
'--health[Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out]' \
'--no-inventory[Do not follow Flux objects listed in Kustomization inventories]' \
'--no-fail-fast[Keep waiting through failures (the controller retries) until the timeout]' \
'--ignore-suspended[Skip suspended objects instead of failing on them]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::objects -- Objects as KIND/NAME\: ocirepository|ocirepo|oci, kustomization|ks, helmrelease|hr, gitrepository|gitrepo, bucket, helmrepository|helmrepo, helmchart:_default' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--artifact=[Select what consumes this artifact\: oci\://REGISTRY/REPO\[\:TAG\]\[@sha256\:DIGEST\] (the \`url\` that push prints)\: matching OCIRepositories, then the Kustomizations and HelmReleases that use them]:OCI-URL:_default' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--dependents[Also select everything that dependsOn the selected objects, transitively]' \
'-A[Look in all namespaces]' \
'--all-namespaces[Look in all namespaces]' \
'--tree[Show sources, their consumers and the Flux objects in their inventories as a tree]' \
'-w[Keep the view live, redrawing as objects change (Ctrl-C to stop)]' \
'--watch[Keep the view live, redrawing as objects change (Ctrl-C to stop)]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::objects -- Objects as KIND/NAME\: ocirepository|ocirepo|oci, kustomization|ks, helmrelease|hr, gitrepository|gitrepo, bucket, helmrepository|helmrepo, helmchart:_default' \
&& ret=0
;;
(receiver)
_arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_kubectl-gitlab_flux__subcmd__receiver_commands" \
"*::: :->receiver" \
&& ret=0

    case $state in
    (receiver)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kubectl-gitlab_flux-receiver-command-$line[1]:"
        case $line[1] in
            (create)
_arguments "${_arguments_options[@]}" : \
'*--for=[Objects the Receiver triggers, as KIND/NAME (repeatable)]:KIND/NAME:_default' \
'--type=[How the Receiver validates calls]:RECEIVER_TYPE:((generic\:"No validation beyond the secret path"
generic-hmac\:"X-Signature\: sha256=<HMAC of the body>"
gitlab\:"X-Gitlab-Token\: <token>"))' \
'--receiver-type=[How the Receiver validates calls]:RECEIVER_TYPE:((generic\:"No validation beyond the secret path"
generic-hmac\:"X-Signature\: sha256=<HMAC of the body>"
gitlab\:"X-Gitlab-Token\: <token>"))' \
'--timeout=[How long to wait for the Receiver to publish its webhook path]:DURATION:_default' \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--export[Print the Secret and Receiver as YAML instead of creating them]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- Name of the Receiver (and of its Secret, with a -token suffix):_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(context)
_arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'--list[List every context of the kubeconfig instead of the chosen one]' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(completion)
_arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':shell -- The shell to generate the script for:(bash zsh fish powershell elvish)' \
&& ret=0
;;
(version)
_arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(__complete)
_arguments "${_arguments_options[@]}" : \
'--kubeconfig=[Path to the kubeconfig file (default\: \$KUBECONFIG, which may list several files, else ~/.kube/config)]:PATH:_files' \
'*--context=[Kubeconfig context to use; \`wait\` and \`status\` accept it several times to watch several clusters]:NAME:_default' \
'*--agent=[GitLab agent to use, as <agent-config-project-path>\:<agent-name> or just \:<agent-name> (picks the kubeconfig context GitLab CI made for it)]:PATH:AGENT:_default' \
'-n+[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--namespace=[Namespace (default\: the context'\''s namespace, else flux-system)]:NS:_default' \
'--request-timeout=[Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none]:DURATION:_default' \
'-o+[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--output=[Output format of the result on stdout]:OUTPUT:((table\:"Human-readable table or summary"
json\:"JSON document"
yaml\:"YAML document"))' \
'--color=[When to use colours (NO_COLOR turns them off in auto)]:WHEN:((auto\:"Colour when writing to a terminal and NO_COLOR is unset"
always\:"Always colour (not JSON/YAML)"
never\:"Never colour"))' \
'*-v[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'*--verbose[Log what happens to stderr; repeat for more detail (-vv\: HTTP requests)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::words -- The words after `kubectl gitlab-flux`, the last one being completed (may be empty):_default' \
&& ret=0
;;
        esac
    ;;
esac
}

(( $+functions[_kubectl-gitlab_flux_commands] )) ||
_kubectl-gitlab_flux_commands() {
    local commands; commands=(
'push:Package a directory (or file) of manifests as a Flux OCI artifact and push it' \
'tag:Point more tags at an artifact already pushed (promotion), keeping its digest' \
'trigger:Ask Flux to reconcile now\: by object, or everything that consumes an artifact' \
'wait:Wait until Flux applied exactly the pushed revision and everything is Ready' \
'status:Show the readiness of OCIRepositories, Kustomizations and HelmReleases' \
'receiver:Set up Flux Receivers (webhooks) so CI jobs can trigger without cluster access' \
'context:Show which kubeconfig context, cluster and namespace would be used, and why' \
'completion:Print a shell completion script' \
'version:Print the plugin'\''s version, git commit and build target' \
'__complete:Answer kubectl'\''s plugin completion protocol (used by kubectl_complete-gitlab_flux)' \
    )
    _describe -t commands 'kubectl-gitlab_flux commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd____complete_commands] )) ||
_kubectl-gitlab_flux__subcmd____complete_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux __complete commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__completion_commands] )) ||
_kubectl-gitlab_flux__subcmd__completion_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux completion commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__context_commands] )) ||
_kubectl-gitlab_flux__subcmd__context_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux context commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__push_commands] )) ||
_kubectl-gitlab_flux__subcmd__push_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux push commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__receiver_commands] )) ||
_kubectl-gitlab_flux__subcmd__receiver_commands() {
    local commands; commands=(
'create:Create a Receiver (and its token Secret) that triggers the given objects' \
    )
    _describe -t commands 'kubectl-gitlab_flux receiver commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__receiver__subcmd__create_commands] )) ||
_kubectl-gitlab_flux__subcmd__receiver__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux receiver create commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__status_commands] )) ||
_kubectl-gitlab_flux__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux status commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__tag_commands] )) ||
_kubectl-gitlab_flux__subcmd__tag_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux tag commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__trigger_commands] )) ||
_kubectl-gitlab_flux__subcmd__trigger_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux trigger commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__version_commands] )) ||
_kubectl-gitlab_flux__subcmd__version_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux version commands' commands "$@"
}
(( $+functions[_kubectl-gitlab_flux__subcmd__wait_commands] )) ||
_kubectl-gitlab_flux__subcmd__wait_commands() {
    local commands; commands=()
    _describe -t commands 'kubectl-gitlab_flux wait commands' commands "$@"
}

if [ "$funcstack[1]" = "_kubectl-gitlab_flux" ]; then
    _kubectl-gitlab_flux "$@"
else
    compdef _kubectl-gitlab_flux kubectl-gitlab_flux
fi
