//! `gatehouse`: the service binary and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use gatehouse_server::snapshot::SyncOptions;
use gatehouse_server::{AppState, now_ms, router, tenants};
use gatehouse_store::{PgStore, SqliteStore, Store};
use std::time::Duration;

/// Gatehouse: the trust boundary between a collaboration product and its apps.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Args)]
struct StoreArgs {
    /// Directory of the embedded SQLite store (when no --database-url is given).
    #[arg(long, default_value = "./gatehouse-data", env = "GATEHOUSE_DATA_DIR")]
    data_dir: PathBuf,
    /// Use PostgreSQL (or a Postgres-wire engine) instead: postgres://user@host:port/db.
    /// Several `gatehouse serve` processes may share one database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "GATEHOUSE_LISTEN")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Host key of the `default` tenant, used when it is first created
    /// (otherwise one is generated and printed once).
    #[arg(long, env = "GATEHOUSE_HOST_KEY", hide_env_values = true)]
    host_key: Option<String>,
    /// URL apps and hosts reach this server by (default: http://<listen address>).
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Milliseconds between polls of tenant generations: the bound on how
    /// long another replica's change can go unseen when a notification is lost.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    sync_poll_ms: u64,
    /// Do not listen to PostgreSQL notifications (rely on the poll alone).
    #[arg(long, hide = true)]
    no_change_feed: bool,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Add a tenant and print its host key.
    Create {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Use this host key instead of generating one.
        #[arg(long, env = "GATEHOUSE_HOST_KEY", hide_env_values = true)]
        host_key: Option<String>,
    },
    /// Replace a tenant's host key and print the new one.
    RotateKey {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, hide_env_values = true)]
        host_key: Option<String>,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

const DEFAULT_TENANT: &str = "default";

async fn open(args: &StoreArgs) -> Result<Arc<dyn Store>, String> {
    match &args.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => PgStore::connect(url)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("cannot open the PostgreSQL store: {e}")),
        Some(_) => Err("--database-url must be a postgres:// or postgresql:// URL; leave it out to use SQLite in --data-dir".into()),
        None => SqliteStore::open(&args.data_dir)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("cannot open the store in {}: {e}", args.data_dir.display())),
    }
}

/// Where the store lives, for the start-up banner (no credentials).
fn store_location(args: &StoreArgs) -> String {
    match &args.database_url {
        Some(url) => {
            let host = url.split('@').next_back().unwrap_or(url);
            format!("PostgreSQL at {}", host.split('?').next().unwrap_or(host))
        }
        None => format!("SQLite in {}", args.data_dir.display()),
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let store = open(&args.store).await?;
    let new_key = tenants::ensure(
        store.as_ref(),
        DEFAULT_TENANT,
        args.host_key.as_deref(),
        now_ms(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = args.public_url.unwrap_or_else(|| format!("http://{addr}"));
    let sync = SyncOptions {
        poll_interval: Duration::from_millis(args.sync_poll_ms),
        use_change_feed: !args.no_change_feed,
    };
    let state = AppState::with_sync(store, &public_url, sync);
    println!("Gatehouse listening on http://{addr}");
    println!("store: {}", store_location(&args.store));
    println!(
        "tenant {DEFAULT_TENANT}: base URL {}",
        state.tenant_base_url(DEFAULT_TENANT)
    );
    match (new_key, args.host_key.is_some()) {
        (Some(key), false) => {
            println!("host key: {key}  (generated now and shown only once; keep it)")
        }
        (Some(_), true) => println!("host key: as given by --host-key / GATEHOUSE_HOST_KEY"),
        (None, _) => println!(
            "host key: set at first start (replace it with `gatehouse tenant rotate-key {DEFAULT_TENANT}`)"
        ),
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn tenant(cmd: TenantCommand) -> Result<(), String> {
    match cmd {
        TenantCommand::Create {
            name,
            store,
            host_key,
        } => {
            let store = open(&store).await?;
            let key = tenants::create(store.as_ref(), &name, host_key.as_deref(), now_ms())
                .await
                .map_err(|e| e.to_string())?;
            println!("tenant {name} created; base path /t/{name}");
            if host_key.is_none() {
                println!("host key: {key}  (shown only once; keep it)");
            }
        }
        TenantCommand::RotateKey {
            name,
            store,
            host_key,
        } => {
            let store = open(&store).await?;
            let key = tenants::rotate_key(store.as_ref(), &name, host_key.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!("host key of tenant {name} replaced; the old key no longer works");
            if host_key.is_none() {
                println!("host key: {key}  (shown only once; keep it)");
            }
        }
        TenantCommand::List { store } => {
            let store = open(&store).await?;
            for name in store.tenant_names().await.map_err(|e| e.to_string())? {
                println!("{name}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Tenant(cmd) => tenant(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
