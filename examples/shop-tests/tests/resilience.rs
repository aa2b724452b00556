//! The shop's resilience, tested with faultline: the production policy on the scenario of
//! shop.toml, over seeds and under generated faults. A failure panics with one line that
//! replays it (`faultline replay target/faultline-failures/.../failure.json`).

use faultline::testing::{self, strategies};
use faultline::Scenario;
use proptest::prelude::*;
use shop_tests::PRODUCTION;

fn shop(seed: Option<u64>) -> Scenario {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/shop.toml");
    faultline::load(file, &[PRODUCTION.as_set()], seed).expect("shop.toml loads")
}

/// Every checker holds on twenty seeds (`FAULTLINE_SEEDS=1..2000` for a nightly run).
#[test]
fn the_production_policy_holds_on_every_seed() {
    testing::assert_seeds_pass(&shop(None), 1..=20);
}

/// A seed that once failed stays in the list for good.
#[test]
fn regression_seeds() {
    testing::assert_seeds_pass(&shop(None), [4, 8214]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever happens to checkout and payment, no charge happens twice and no request is
    /// left hanging.
    #[test]
    fn no_double_charge_under_any_faults(
        plan in strategies::fault_plan(&["checkout", "payment", "payment-0"], 20.0, 3),
        seed in 1..10_000u64,
    ) {
        let scenario = shop(Some(seed)).with_faults(&plan).expect("generated faults are valid");
        if let Err(replay) = testing::check(&scenario) {
            prop_assert!(false, "{}", replay);
        }
    }
}
