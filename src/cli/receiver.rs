//! `receiver` command-line arguments.

use clap::{Args, Subcommand};

use super::trigger::ReceiverType;

#[derive(Debug, Subcommand)]
pub enum ReceiverCommand {
    /// Create a Receiver (and its token Secret) that triggers the given objects
    Create(ReceiverCreateArgs),
}

#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
Example:
  kubectl gitlab-flux receiver create gitlab-ci --for ocirepository/apps -n flux-system
Store the printed token as a masked GitLab CI/CD variable and call
  kubectl gitlab-flux trigger --receiver https://<webhook host><path> --token-env FLUX_RECEIVER_TOKEN")]
pub struct ReceiverCreateArgs {
    /// Name of the Receiver (and of its Secret, with a -token suffix)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Objects the Receiver triggers, as KIND/NAME (repeatable)
    #[arg(long = "for", value_name = "KIND/NAME", required = true)]
    pub resources: Vec<String>,

    /// How the Receiver validates calls
    #[arg(long = "type", visible_alias = "receiver-type", value_enum, default_value_t = ReceiverType::GenericHmac)]
    pub receiver_type: ReceiverType,

    /// Print the Secret and Receiver as YAML instead of creating them
    #[arg(long)]
    pub export: bool,

    /// How long to wait for the Receiver to publish its webhook path
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub timeout: String,
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn type_is_also_receiver_type_as_trigger_names_it() {
        for flag in ["--type", "--receiver-type"] {
            let cli = Cli::try_parse_from([
                "kubectl-gitlab_flux",
                "receiver",
                "create",
                "ci",
                "--for",
                "oci/apps",
                flag,
                "gitlab",
            ])
            .expect("parses");
            let Command::Receiver(super::ReceiverCommand::Create(args)) = cli.command else {
                panic!("receiver create");
            };
            assert_eq!(args.receiver_type, super::ReceiverType::Gitlab, "{flag}");
        }
    }
}
