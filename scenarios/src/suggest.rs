//! "Did you mean" for names a user misspelt.

/// `; did you mean "x"?` for the closest candidate within a small edit distance (or sharing a
/// long prefix), else an empty string.
pub fn did_you_mean(given: &str, candidates: &[impl AsRef<str>]) -> String {
    let best = candidates
        .iter()
        .map(|c| (distance(given, c.as_ref()), c.as_ref()))
        .filter(|(d, c)| *d <= (given.chars().count().max(c.chars().count()) / 3).max(1))
        .min();
    match best {
        Some((_, c)) => format!("; did you mean \"{c}\"?"),
        None => String::new(),
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(did_you_mean("pament", &["orders", "payment", "inventory"]), "; did you mean \"payment\"?");
        assert_eq!(did_you_mean("결제서비스", &["결제", "주문"]), "");
        assert_eq!(did_you_mean("xyz", &["orders", "payment"]), "");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
