# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_gitlab_flux_global_optspecs
    string join \n kubeconfig= context= agent= n/namespace= request-timeout= o/output= color= v/verbose h/help V/version
end

function __fish_kubectl_gitlab_flux_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_gitlab_flux_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_gitlab_flux_using_subcommand
    set -l cmd (__fish_kubectl_gitlab_flux_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "push" -d 'Package a directory (or file) of manifests as a Flux OCI artifact and push it'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "tag" -d 'Point more tags at an artifact already pushed (promotion), keeping its digest'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "trigger" -d 'Ask Flux to reconcile now: by object, or everything that consumes an artifact'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "wait" -d 'Wait until Flux applied exactly the pushed revision and everything is Ready'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "status" -d 'Show the readiness of OCIRepositories, Kustomizations and HelmReleases'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "receiver" -d 'Set up Flux Receivers (webhooks) so CI jobs can trigger without cluster access'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "context" -d 'Show which kubeconfig context, cluster and namespace would be used, and why'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "version" -d 'Print the plugin\'s version, git commit and build target'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_needs_command" -f -a "__complete" -d 'Answer kubectl\'s plugin completion protocol (used by kubectl_complete-gitlab_flux)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s t -l tag -d 'Also tag the artifact with TAG (repeatable); blobs are uploaded once' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l ignore -d 'Ignore files matching PATTERN, gitignore syntax (repeatable), on top of the Flux defaults and .sourceignore files' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s a -l annotation -d 'Add the manifest annotation KEY=VALUE (repeatable; overrides computed ones)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l source -d 'Source URL annotation (default: CI_PROJECT_URL or the git remote origin)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l revision -d 'Revision annotation, e.g. main@sha1:<commit> (default: from GitLab CI or the git checkout)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l created -d 'Creation time annotation, RFC 3339 (default: CI_COMMIT_TIMESTAMP or the commit time, else now)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l creds -d 'Registry credentials as USER:PASSWORD (prefer --password-stdin: flags show up in process lists)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s u -l username -d 'Registry user name; the password is read from stdin with --password-stdin' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l ca-file -d 'PEM file with extra CA certificates to trust for the registry' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l timeout -d 'Give up after DURATION, retries included' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l dotenv -d 'Write KEY=VALUE lines for GitLab\'s artifacts:reports:dotenv (ARTIFACT_URL, ARTIFACT_DIGEST, …)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l wait-timeout -d 'With --wait: give up waiting after DURATION (exit 3)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l junit -d 'Write a JUnit XML report (one testcase per object) for GitLab\'s test reports' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l helm-chart -d 'Package PATH as a Helm chart in Helm\'s OCI format (automatic when PATH holds Chart.yaml)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l no-validate -d 'Do not check that every .yaml/.yml file parses before pushing'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l dry-run -d 'Show the files, layer digest and manifest that would be pushed; upload nothing'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l skip-unchanged -d 'Push nothing when the first tag already holds an artifact with the same content'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l password-stdin -d 'Read the registry password (or token) from stdin'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l insecure-registry -d 'Allow plain HTTP for this registry (loopback registries are always allowed)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l trigger -d 'Then trigger everything that consumes the artifact (as `trigger --artifact`)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l wait -d 'Then (after triggering) wait for the consumers (as `wait --artifact`)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l dependents -d 'With --trigger/--wait: also follow what dependsOn the consumers'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s A -l all-namespaces -d 'With --trigger/--wait: look for consumers in all namespaces'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l health -d 'Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l no-inventory -d 'Do not follow Flux objects listed in Kustomization inventories'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l no-fail-fast -d 'Keep waiting through failures (the controller retries) until the timeout'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -l ignore-suspended -d 'Skip suspended objects instead of failing on them'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand push" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l creds -d 'Registry credentials as USER:PASSWORD (prefer --password-stdin: flags show up in process lists)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s u -l username -d 'Registry user name; the password is read from stdin with --password-stdin' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l ca-file -d 'PEM file with extra CA certificates to trust for the registry' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l timeout -d 'Give up after DURATION, retries included' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l dotenv -d 'Write KEY=VALUE lines for GitLab\'s artifacts:reports:dotenv (the keys push writes, for the first NEW_TAG)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l wait-timeout -d 'With --wait: give up waiting after DURATION (exit 3)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l junit -d 'Write a JUnit XML report (one testcase per object) for GitLab\'s test reports' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l any-media-type -d 'Also tag artifacts that are neither Flux artifacts nor Helm charts (any image or index)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l password-stdin -d 'Read the registry password (or token) from stdin'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l insecure-registry -d 'Allow plain HTTP for this registry (loopback registries are always allowed)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l trigger -d 'Then trigger everything that consumes the artifact (as `trigger --artifact`)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l wait -d 'Then (after triggering) wait for the consumers (as `wait --artifact`)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l dependents -d 'With --trigger/--wait: also follow what dependsOn the consumers'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s A -l all-namespaces -d 'With --trigger/--wait: look for consumers in all namespaces'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l health -d 'Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l no-inventory -d 'Do not follow Flux objects listed in Kustomization inventories'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l no-fail-fast -d 'Keep waiting through failures (the controller retries) until the timeout'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -l ignore-suspended -d 'Skip suspended objects instead of failing on them'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand tag" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l artifact -d 'Select what consumes this artifact: oci://REGISTRY/REPO[:TAG][@sha256:DIGEST] (the `url` that push prints): matching OCIRepositories, then the Kustomizations and HelmReleases that use them' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l receiver -d 'Call a Flux Receiver webhook instead of annotating objects (needs no cluster access)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l receiver-type -d 'How the Receiver validates calls' -r -f -a "generic\t'No validation beyond the secret path'
generic-hmac\t'X-Signature: sha256=<HMAC of the body>'
gitlab\t'X-Gitlab-Token: <token>'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l gitlab-event -d 'The X-Gitlab-Event a gitlab Receiver is called with; it must be one of its spec.events, when it lists some' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l token-file -d 'Read the Receiver token from FILE' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l token-env -d 'Read the Receiver token from the environment variable NAME (default: stdin)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l dotenv -d 'Write KEY=VALUE lines (FLUX_RECONCILE_TOKEN, …) for GitLab\'s artifacts:reports:dotenv' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l dependents -d 'Also select everything that dependsOn the selected objects, transitively'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s A -l all-namespaces -d 'Look in all namespaces'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l force -d 'HelmReleases: force a one-off install or upgrade (reconcile.fluxcd.io/forceAt)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l reset -d 'HelmReleases: reset the failure counters (reconcile.fluxcd.io/resetAt)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -l fail-on-suspended -d 'Fail instead of skipping selected objects that are suspended'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand trigger" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l artifact -d 'Select what consumes this artifact: oci://REGISTRY/REPO[:TAG][@sha256:DIGEST] (the `url` that push prints): matching OCIRepositories, then the Kustomizations and HelmReleases that use them' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l since-token -d 'Demand that this reconcile request (printed by `trigger`) was handled' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l timeout -d 'Give up after DURATION (exit 3), listing what each object still waits for' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l junit -d 'Write a JUnit XML report (one testcase per object) for GitLab\'s test reports' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l dependents -d 'Also select everything that dependsOn the selected objects, transitively'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s A -l all-namespaces -d 'Look in all namespaces'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l health -d 'Also wait for Deployments, StatefulSets, DaemonSets and Jobs in the inventories to roll out'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l no-inventory -d 'Do not follow Flux objects listed in Kustomization inventories'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l no-fail-fast -d 'Keep waiting through failures (the controller retries) until the timeout'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -l ignore-suspended -d 'Skip suspended objects instead of failing on them'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand wait" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l artifact -d 'Select what consumes this artifact: oci://REGISTRY/REPO[:TAG][@sha256:DIGEST] (the `url` that push prints): matching OCIRepositories, then the Kustomizations and HelmReleases that use them' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l dependents -d 'Also select everything that dependsOn the selected objects, transitively'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s A -l all-namespaces -d 'Look in all namespaces'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -l tree -d 'Show sources, their consumers and the Flux objects in their inventories as a tree'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s w -l watch -d 'Keep the view live, redrawing as objects change (Ctrl-C to stop)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand status" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and not __fish_seen_subcommand_from create" -f -a "create" -d 'Create a Receiver (and its token Secret) that triggers the given objects'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l for -d 'Objects the Receiver triggers, as KIND/NAME (repeatable)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l type -l receiver-type -d 'How the Receiver validates calls' -r -f -a "generic\t'No validation beyond the secret path'
generic-hmac\t'X-Signature: sha256=<HMAC of the body>'
gitlab\t'X-Gitlab-Token: <token>'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l timeout -d 'How long to wait for the Receiver to publish its webhook path' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -l export -d 'Print the Secret and Receiver as YAML instead of creating them'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand receiver; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -l list -d 'List every context of the kubeconfig instead of the chosen one'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand context" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand completion" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand version" -s V -l version -d 'Print version'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config)' -r -F
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -l context -d 'Kubeconfig context to use; `wait` and `status` accept it several times to watch several clusters' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -l agent -d 'GitLab agent to use, as <agent-config-project-path>:<agent-name> or just :<agent-name> (picks the kubeconfig context GitLab CI made for it)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -s n -l namespace -d 'Namespace (default: the context\'s namespace, else flux-system)' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -l request-timeout -d 'Time limit of a single request to the cluster, e.g. 10s, 1m; 0 means none' -r
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -s o -l output -d 'Output format of the result on stdout' -r -f -a "table\t'Human-readable table or summary'
json\t'JSON document'
yaml\t'YAML document'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -l color -d 'When to use colours (NO_COLOR turns them off in auto)' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is unset'
always\t'Always colour (not JSON/YAML)'
never\t'Never colour'"
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -s v -l verbose -d 'Log what happens to stderr; repeat for more detail (-vv: HTTP requests)'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-gitlab_flux -n "__fish_kubectl_gitlab_flux_using_subcommand __complete" -s V -l version -d 'Print version'
