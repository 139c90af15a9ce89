//! `cargo run -p series-model --release --bin series-score -- [held-out|tuning] [SERIES] [--misses]`:
//! draws SERIES scenarios (1,000 by default) from the seeds held out of
//! tuning (or the others), runs detection over their records and prints
//! the scores per perturbation, rule shape and place, in Markdown.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = args.iter().find(|arg| {
        !matches!(arg.as_str(), "held-out" | "tuning" | "--misses") && arg.parse::<usize>().is_err()
    }) {
        anyhow::bail!(
            "unknown argument {unknown:?}: expected held-out, tuning, a number of scenarios or --misses"
        );
    }
    let held_out = !args.iter().any(|arg| arg == "tuning");
    let count: usize = match args.iter().find(|arg| arg.parse::<usize>().is_ok()) {
        Some(count) => count.parse()?,
        None => 1000,
    };
    let report = series_model::evaluate(held_out, count).map_err(anyhow::Error::msg)?;
    println!(
        "## {} seeds\n\n{}",
        if held_out { "Held-out" } else { "Tuning" },
        report.markdown()
    );
    if args.iter().any(|arg| arg == "--misses") {
        for miss in &report.misses {
            println!("{miss}");
        }
    }
    Ok(())
}
