//! Whether the floor's own runs say the machine was disturbed while they ran. The floor (an
//! axum server that only reads the body) answers at 4 connections and at 200 a second in
//! about the same time every time on a quiet machine, so a floor whose tail is many times its
//! median was slowed by something outside it: another tenant of the host, the disk. Every goal
//! set against the floor then says little. In the seventieth session's runs
//! (docs/benchmarks.md), the quiet ones had the floor's p99 at 4 connections 4 to 9× its median
//! (0.23 to 0.47 ms) and at 200 a second 1.3 to 3.1× (1.77 to 4.86 ms); the disturbed ones 24 to
//! 540× (1.45 to 26.9 ms) and 5 to 10× (10.6 to 28.3 ms), the floor's rate at 64 connections
//! often down to a third of a quiet run's. One of those disturbed runs had the goal of a p99 at
//! 4 connections within 2× the floor's "met" at 0.1×.

/// A tail beyond this many times the median, at 4 connections, is the machine's, not the
/// floor's.
const MOST_AT_4: f64 = 20.0;
/// The same at 200 a second, each request on a new connection: a wider median, a narrower
/// ratio.
const MOST_AT_200: f64 = 4.0;

/// What in the floor's runs says the machine was disturbed, if anything: (p50, p99) in
/// milliseconds at 4 connections and at 200 a second.
pub fn floor_disturbed(at_4: (f64, f64), at_200: (f64, f64)) -> Option<String> {
    let mut said = Vec::new();
    for ((p50, p99), most, run) in [
        (at_4, MOST_AT_4, "at 4 connections"),
        (at_200, MOST_AT_200, "at 200 a second"),
    ] {
        // A p50 of zero (a run too short to have one) says nothing either way.
        if p50 > 0.0 && p99 > most * p50 {
            said.push(format!(
                "its p99 {run} was {:.0}× its median ({p99:.2} against {p50:.2} ms)",
                p99 / p50
            ));
        }
    }
    (!said.is_empty()).then(|| said.join(", and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quiet_runs_pass_and_the_disturbed_ones_are_named() {
        // The seventieth session's quiet runs of the floor.
        for quiet in [
            ((0.05, 0.25), (1.76, 3.55)),
            ((0.05, 0.28), (1.59, 2.21)),
            ((0.05, 0.45), (1.17, 1.77)),
        ] {
            assert_eq!(floor_disturbed(quiet.0, quiet.1), None, "{quiet:?}");
        }
        // And its disturbed ones: the tail at 4 connections, at 200 a second, or both.
        let both = floor_disturbed((0.06, 17.88), (2.38, 23.84)).unwrap();
        assert!(both.contains("at 4 connections was 298×"), "{both}");
        assert!(both.contains("at 200 a second was 10×"), "{both}");
        let paced = floor_disturbed((0.05, 0.47), (1.11, 12.03)).unwrap();
        assert!(!paced.contains("at 4 connections"), "{paced}");
        assert!(paced.contains("at 200 a second"), "{paced}");
    }
}
