//! The `latchkey` binary: parse settings, start logging, run the subcommand.

use std::process::ExitCode;

use latchkey::config::{Command, parse_cli};
use latchkey::startup::{Application, connect_and_migrate};
use latchkey::{openapi, telemetry};

fn main() -> ExitCode {
    let cli = parse_cli();
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Openapi) {
        print!("{}", openapi::yaml());
        return ExitCode::SUCCESS;
    }
    let command = match command {
        Command::Admin(admin) => return latchkey::cli::main(admin, &cli.settings),
        other => other,
    };
    telemetry::init(cli.settings.log_format);
    let result = match command {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            Application::build(cli.settings)
                .await?
                .run_until_stopped()
                .await
                .map_err(anyhow::Error::from)
        }),
        // One connection: see `cli::main` on pools that open connections in the background.
        Command::Migrate => connect_and_migrate(&latchkey::config::Settings {
            db_pool_size: 1,
            ..cli.settings
        })
        .map(|_| {
            println!("migrations applied");
        }),
        Command::Openapi | Command::Admin(_) => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latchkey: {err:#}");
            ExitCode::FAILURE
        }
    }
}
