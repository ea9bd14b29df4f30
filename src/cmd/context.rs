//! `context`: which kubeconfig context, cluster and namespace would be used
//! and why — the first thing to check when a GitLab CI job talks to the
//! wrong cluster.

use serde::Serialize;

use super::{Session, write_stdout};
use crate::cli::{ContextArgs, OutputFormat};
use crate::cluster::kubeconfig;
use crate::error::{ExitCode, Result};
use crate::render;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextEntry {
    name: String,
    cluster: Option<String>,
    namespace: Option<String>,
    current: bool,
}

pub fn run(session: &Session, args: ContextArgs) -> Result<ExitCode> {
    if args.list {
        let kc = kubeconfig::load(session.global.kubeconfig.as_deref())?;
        let entries: Vec<ContextEntry> = kc
            .contexts
            .iter()
            .map(|c| ContextEntry {
                name: c.name.clone(),
                cluster: c.context.as_ref().map(|x| x.cluster.clone()),
                namespace: c.context.as_ref().and_then(|x| x.namespace.clone()),
                current: kc.current_context.as_deref() == Some(c.name.as_str()),
            })
            .collect();
        let text = match session.output {
            OutputFormat::Table => {
                let rows = entries
                    .iter()
                    .map(|e| {
                        vec![
                            if e.current { "*".into() } else { String::new() },
                            e.name.clone(),
                            e.cluster.clone().unwrap_or_default(),
                            e.namespace.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                render::table(&["CURRENT", "NAME", "CLUSTER", "NAMESPACE"], rows)
            }
            format => render::document(&entries, format)?,
        };
        write_stdout(&text)?;
        return Ok(ExitCode::Success);
    }

    let (_, resolved) = session.resolve_single()?;
    let text = match session.output {
        OutputFormat::Table => format!(
            "context:   {} (chosen by {})\ncluster:   {}\nserver:    {}\nuser:      {}\nnamespace: {} (from {})\n",
            resolved.context,
            resolved.chosen_by,
            resolved.cluster.as_deref().unwrap_or("-"),
            resolved.server.as_deref().unwrap_or("-"),
            resolved.user.as_deref().unwrap_or("-"),
            resolved.namespace,
            match resolved.namespace_from {
                kubeconfig::NamespaceFrom::Flag => "-n",
                kubeconfig::NamespaceFrom::Context => "the context",
                kubeconfig::NamespaceFrom::Default => "the default",
            }
        ),
        format => render::document(&resolved, format)?,
    };
    write_stdout(&text)?;
    Ok(ExitCode::Success)
}
