//! `--set key=value`: change any key of a scenario before it is read.
//!
//! Keys are dotted paths into the TOML document: `workload.rate_per_s=80`,
//! `services.payment.error_rate=0.1`, `edges.orders->payment.retry.max_attempts=5`,
//! `faults.0.duration_s=5` (or `faults[0].duration_s`). A segment may be quoted:
//! `edges."orders->payment".stack=["timeout"]`. The value is read as TOML (a number, a boolean,
//! a string in quotes, an array, an inline table) and, if it is not valid TOML, as a bare string
//! (`--set services.db.service_time=exp(5ms)`). Missing tables are created; whether the key is
//! allowed is decided afterwards by the same strict reading as the file's own keys.

use toml::{Table, Value};

/// One parsed `key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The text as given, for messages.
    pub text: String,
    /// Path segments.
    pub path: Vec<Segment>,
    /// The value.
    pub value: Value,
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Override {
    /// Parses `key=value`.
    pub fn parse(text: &str) -> Result<Override, String> {
        let (key, raw) = text
            .split_once('=')
            .ok_or_else(|| format!("--set \"{text}\": expected key=value, e.g. workload.rate_per_s=80"))?;
        let path = parse_path(key.trim()).map_err(|e| format!("--set \"{text}\": {e}"))?;
        let raw = raw.trim();
        let value = match toml::from_str::<Table>(&format!("v = {raw}")) {
            Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.to_owned())),
            Err(_) => Value::String(raw.to_owned()),
        };
        Ok(Override { text: text.to_owned(), path, value })
    }

    /// The dotted key, for messages.
    pub fn key(&self) -> String {
        display_path(&self.path)
    }
}

/// Applies overrides in order to a document given as a root `Value`.
pub fn apply_all(doc: &mut Table, overrides: &[Override]) -> Result<(), String> {
    for o in overrides {
        let mut root = Value::Table(std::mem::take(doc));
        let r = o.apply(&mut root);
        if let Value::Table(t) = root {
            *doc = t;
        }
        r?;
    }
    Ok(())
}

impl Override {
    /// Applies this override to a document's root value.
    pub fn apply(&self, root: &mut Value) -> Result<(), String> {
        let fail = |why: String| format!("--set \"{}\": {why}", self.text);
        let (last, parents) = self.path.split_last().ok_or_else(|| fail("empty key".into()))?;
        let mut here = root;
        for (depth, seg) in parents.iter().enumerate() {
            let at = display_path(&self.path[..depth + 1]);
            let next_is_index = matches!(self.path[depth + 1], Segment::Index(_));
            here = step(here, seg, next_is_index, &at).map_err(fail)?;
        }
        match (here, last) {
            (Value::Table(t), Segment::Key(k)) => {
                t.insert(k.clone(), self.value.clone());
                Ok(())
            }
            (Value::Array(a), Segment::Index(i)) if *i < a.len() => {
                a[*i] = self.value.clone();
                Ok(())
            }
            (Value::Array(a), Segment::Index(i)) if *i == a.len() => {
                a.push(self.value.clone());
                Ok(())
            }
            (Value::Array(a), Segment::Index(i)) => Err(fail(format!(
                "`{}`: index {i} is past the end (the array has {} item(s); use {} to add one)",
                self.key(),
                a.len(),
                a.len()
            ))),
            _ => Err(fail(format!(
                "`{}` is not a table or an array, so it has no `{}`",
                display_path(parents),
                display_path(std::slice::from_ref(last))
            ))),
        }
    }
}

/// One step down; a missing key becomes a table (or an array when an index follows), and the
/// index one past the end of an array appends a new table (so `faults[2].kind=...` adds a fault).
fn step<'a>(here: &'a mut Value, seg: &Segment, next_is_index: bool, at: &str) -> Result<&'a mut Value, String> {
    match (here, seg) {
        (Value::Table(t), Segment::Key(k)) => Ok(t.entry(k.clone()).or_insert_with(|| {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Table(Table::new())
            }
        })),
        (Value::Array(a), Segment::Index(i)) => {
            let len = a.len();
            if *i == len {
                a.push(Value::Table(Table::new()));
            }
            a.get_mut(*i).ok_or_else(|| {
                format!("`{at}`: index {i} is past the end (the array has {len} item(s); use {len} to add one)")
            })
        }
        (Value::Array(_), Segment::Key(k)) => {
            Err(format!("`{at}`: `{k}` is not an index (this is an array: use a number)"))
        }
        (_, _) => Err(format!("`{at}` is not a table")),
    }
}

fn parse_path(key: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut chars = key.chars().peekable();
    let mut cur = String::new();
    let push = |cur: &mut String, out: &mut Vec<Segment>| -> Result<(), String> {
        if cur.is_empty() {
            return Ok(());
        }
        let seg = match cur.parse::<usize>() {
            Ok(i) if !out.is_empty() => Segment::Index(i),
            _ => Segment::Key(cur.clone()),
        };
        out.push(seg);
        cur.clear();
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(ch) => quoted.push(ch),
                        None => return Err("unclosed quote in the key".into()),
                    }
                }
                out.push(Segment::Key(quoted));
            }
            '.' => push(&mut cur, &mut out)?,
            '[' => {
                push(&mut cur, &mut out)?;
                let mut idx = String::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(ch) => idx.push(ch),
                        None => return Err("unclosed [ in the key".into()),
                    }
                }
                let i = idx.trim().parse::<usize>().map_err(|_| format!("`[{idx}]` is not an index"))?;
                out.push(Segment::Index(i));
            }
            c if c.is_whitespace() => {}
            c => cur.push(c),
        }
    }
    push(&mut cur, &mut out)?;
    if out.is_empty() {
        return Err("empty key".into());
    }
    Ok(out)
}

/// `a.b[0].c`.
pub fn display_path(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn sets_nested_keys_indices_and_bare_strings() {
        let mut d = doc("[workload]\nrate_per_s = 10\n[[faults]]\nat_s = 1\n");
        let sets = [
            "workload.rate_per_s=80",
            "faults[0].at_s=5",
            "faults.0.kind=outage",
            "services.db.service_time=exp(5ms)",
            "edges.\"a->b\".stack=[\"timeout\"]",
        ];
        let parsed: Vec<_> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        apply_all(&mut d, &parsed).unwrap();
        assert_eq!(d["workload"]["rate_per_s"].as_integer(), Some(80));
        assert_eq!(d["faults"][0]["at_s"].as_integer(), Some(5));
        assert_eq!(d["faults"][0]["kind"].as_str(), Some("outage"));
        assert_eq!(d["services"]["db"]["service_time"].as_str(), Some("exp(5ms)"));
        assert_eq!(d["edges"]["a->b"]["stack"][0].as_str(), Some("timeout"));
    }

    #[test]
    fn bad_overrides_say_why() {
        assert!(Override::parse("no-equals").unwrap_err().contains("expected key=value"));
        let mut d = doc("[[faults]]\nat_s = 1\n");
        let e = apply_all(&mut d, &[Override::parse("faults[3].at_s=2").unwrap()]).unwrap_err();
        assert!(e.contains("past the end"), "{e}");
        let e = apply_all(&mut d, &[Override::parse("faults[0].at_s.x=2").unwrap()]).unwrap_err();
        assert!(e.contains("not a table"), "{e}");
        // One past the end appends: a fault can be added from the command line.
        apply_all(&mut d, &[Override::parse("faults[1].kind=crash").unwrap()]).unwrap();
        assert_eq!(d["faults"][1]["kind"].as_str(), Some("crash"));
        let mut empty = Table::new();
        apply_all(&mut empty, &[Override::parse("faults[0].at_s=3").unwrap()]).unwrap();
        assert_eq!(empty["faults"][0]["at_s"].as_integer(), Some(3));
    }
}
