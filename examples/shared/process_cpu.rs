//! CPU time read from `/proc` (Linux), shared by the benchmarks that count the PostgreSQL
//! server's CPU as part of trustpulse's (`planner_bench`, `answer_bench`): on PostgreSQL the
//! server does much of the work.

/// The CPU time of every process named `postgres` (the server and its backends).
pub fn postgres_cpu_secs() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|e| process_cpu_secs(&e.path().join("stat").to_string_lossy()))
        .sum()
}

/// User plus system CPU time of the process whose `stat` file is at `path`, in seconds.
pub fn process_cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
