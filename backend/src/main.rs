//! The `latchkey` binary: parse the command line, start logging, run the subcommand.

use std::process::ExitCode;

use latchkey::cli::{Command, parse_cli, print_completions, print_man_page, run_admin};
use latchkey::config::Settings;
use latchkey::startup::{Application, connect_and_migrate};
use latchkey::{openapi, telemetry};

fn main() -> ExitCode {
    let cli = parse_cli();
    let settings = cli.settings;
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", openapi::yaml());
            return ExitCode::SUCCESS;
        }
        Command::Completions { shell } => quiet_on_closed_pipe(print_completions(shell)),
        Command::Man => quiet_on_closed_pipe(print_man_page()),
        Command::Admin(admin) => return run_admin(admin, &settings),
        Command::Serve => {
            telemetry::init(settings.log_format, settings.log_filter.as_deref());
            actix_web::rt::System::new().block_on(async move {
                Application::build(settings)
                    .await?
                    .run_until_stopped()
                    .await
                    .map_err(anyhow::Error::from)
            })
        }
        Command::Migrate => {
            telemetry::init(settings.log_format, settings.log_filter.as_deref());
            // One connection: see `cli::run_admin` on pools that open connections in the
            // background.
            connect_and_migrate(&Settings {
                db_pool_size: 1,
                ..settings
            })
            .map(|_| println!("migrations applied"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latchkey: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Printing to a reader that stopped reading (`latchkey man | head`) is not a failure.
fn quiet_on_closed_pipe(printed: std::io::Result<()>) -> anyhow::Result<()> {
    match printed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(anyhow::Error::from),
    }
}
