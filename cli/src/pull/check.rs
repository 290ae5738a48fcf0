//! `pull --check`: the config is valid (already, or `load` said where it
//! is not) and every source's credentials open one cheap authenticated
//! call. Every problem is reported at once.

use super::config::{Config, What};
use super::Client;
use crate::{Ctx, Failure};
use futures::TryStreamExt;
use logexport::tencent_cls::TopicFilter;

/// Checks every source; exit 0 when all pass, else the list of problems.
pub async fn run(ctx: &Ctx, config: &Config) -> Result<(), Failure> {
    let clients = super::clients(ctx, &config.sources);
    let mut problems = Vec::new();
    for (source, client) in config.sources.iter().zip(clients) {
        let result = match client {
            Err(f) => Err(f),
            Ok(client) => probe(&source.what, &client)
                .await
                .map_err(|f| f.within(format_args!("source `{}`: ", source.name))),
        };
        match result {
            Ok(()) => {
                if !ctx.global.quiet {
                    eprintln!("ok: source `{}` (line {})", source.name, source.line);
                }
            }
            Err(f) => problems.push((source.line, f)),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = problems
        .iter()
        .map(|(line, f)| format!("line {line}: {}", f.message))
        .collect();
    let code = problems.iter().map(|(_, f)| f.code).max().unwrap_or(1);
    let (_, first) = problems.swap_remove(0);
    Err(Failure {
        code,
        message: format!(
            "{} source(s) failed the check:\n{}",
            lines.len(),
            lines.join("\n")
        ),
        error: first.error,
    })
}

/// One cheap call the source's credentials must be allowed to make.
async fn probe(what: &What, client: &Client) -> Result<(), Failure> {
    match (what, client) {
        (What::AtlasEvents { org: Some(org), .. }, Client::Atlas(c, _)) => {
            c.org_events(org, Default::default())?.try_next().await?;
        }
        (
            What::AtlasStreamAudit { project, .. }
            | What::AtlasHostLogs { project, .. }
            | What::AtlasEvents { project, .. },
            Client::Atlas(c, defaults),
        ) => {
            let project = defaults.project(project.clone(), super::source::NO_PROJECT)?;
            c.processes(&project)?.try_next().await?;
        }
        (What::ClsExport { topic, .. }, Client::Cls(c)) => {
            let filter = TopicFilter {
                topic_id: Some(topic.clone()),
                ..TopicFilter::default()
            };
            c.list_topics(filter)?.try_next().await?;
        }
        (What::C1Events { .. }, Client::C1(c)) => {
            c.list_exporters().stream()?.try_next().await?;
        }
        _ => return Err(Failure::runtime("its client is for another vendor")),
    }
    Ok(())
}
