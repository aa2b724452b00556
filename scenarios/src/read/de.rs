//! Reading TOML into typed tables, with errors that name the exact key and say what is wrong in
//! the scenario's words ("a whole number", "a list"), never serde's ("expected u32").
//!
//! Tables whose keys depend on a choice (`kind = "burst"`, `backoff = "fixed"`, `app =
//! "outbox"`) are read with [`Parts::take_tagged`]: the choice is an externally tagged serde
//! enum of struct variants, one per choice, whose fields are that choice's keys. Which keys
//! belong to which enum is read off the types themselves (a probing deserializer), so no list
//! of keys is kept by hand.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, EnumAccess, IntoDeserializer, VariantAccess, Visitor};
use toml::{Table, Value};

use crate::suggest::did_you_mean;

/// A problem at a key: the key path, and what is wrong and allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Dotted path.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// An error at `key`.
pub(crate) fn err<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, KeyError> {
    Err(KeyError { key: key.into(), message: message.into() })
}

/// `a` and `b` joined as a dotted path (`b` may start with `[i]`).
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty() || b == ".") {
        (_, true) => a.to_owned(),
        (true, _) => b.to_owned(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

/// Deserializes `value`, found at `key`, as `T`.
pub(crate) fn de_at<T: DeserializeOwned>(key: &str, value: Value) -> Result<T, KeyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        KeyError { key: join(key, &path), message: in_words(&e.into_inner().to_string()) }
    })
}

/// A serde message rewritten for people who write scenarios.
pub(crate) fn in_words(message: &str) -> String {
    // The toml crate appends "\nin `key`" to its messages; the key is already named.
    let one_line: Vec<&str> =
        message.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("in `")).collect();
    let m = one_line.join("; ");
    if let Some(rest) = m.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = listed(expected);
        let hint = did_you_mean(field, &allowed);
        return format!("`{field}` is not a key here{hint} (allowed: {})", allowed.join(", "));
    }
    if let Some(rest) = m.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = listed(expected);
        let hint = did_you_mean(variant, &allowed);
        return format!("\"{variant}\" is not allowed{hint} (expected {})", or_list(&allowed));
    }
    if let Some(rest) = m.strip_prefix("missing field `") {
        return format!("`{}` is missing", rest.split('`').next().unwrap_or(rest));
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!("{} is not allowed (expected {})", found, expected_in_words(expected));
    }
    if let Some(rest) = m.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!("{} is not allowed (expected {})", found.replace('`', ""), expected_in_words(expected));
    }
    m
}

/// The names in serde's "expected `a`, `b`" or "expected one of `a`, `b`".
fn listed(expected: &str) -> Vec<String> {
    expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn or_list(names: &[String]) -> String {
    match names {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn expected_in_words(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list, e.g. [\"a\", \"b\"]".to_owned(),
        "a string" => "text in quotes".to_owned(),
        "a map" => "a table".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// A table being read in parts: the keys of tagged choices first, then the rest (a struct
/// `C`, whose keys every choice shares).
pub(crate) struct Parts {
    key: String,
    table: Table,
    /// The keys of the rest, for messages about a choice.
    common: Vec<&'static str>,
    /// Keys taken by tagged choices, for messages about the rest.
    taken: Vec<String>,
}

impl Parts {
    /// The table found at `key`, whose other keys are those of `C`.
    pub(crate) fn new<C: DeserializeOwned>(key: impl Into<String>, table: Table) -> Parts {
        Parts { key: key.into(), table, common: struct_fields::<C>(), taken: Vec::new() }
    }

    /// Whether the table has `k`.
    pub(crate) fn has(&self, k: &str) -> bool {
        self.table.contains_key(k)
    }

    /// Takes the choice `tag` (or `default` when absent) and the keys of every variant of `V`,
    /// and reads them as the variant chosen. A key of another variant is an error that names
    /// the choice and its keys.
    pub(crate) fn take_tagged<V: DeserializeOwned>(&mut self, tag: &str, default: &str) -> Result<V, KeyError> {
        self.take_choice(tag, Some(default))
    }

    /// [`Parts::take_tagged`] for a choice that must be made: a missing `tag` is an error that
    /// lists the choices.
    pub(crate) fn take_required<V: DeserializeOwned>(&mut self, tag: &str) -> Result<V, KeyError> {
        self.take_choice(tag, None)
    }

    fn take_choice<V: DeserializeOwned>(&mut self, tag: &str, default: Option<&str>) -> Result<V, KeyError> {
        let variants = variant_fields::<V>();
        let owned: Vec<&str> = variants.iter().flat_map(|(_, f)| f.iter().copied()).collect();
        let mut sub = Table::new();
        let keys: Vec<String> = self.table.keys().filter(|k| owned.contains(&k.as_str())).cloned().collect();
        for k in keys {
            if let Some(v) = self.table.remove(&k) {
                sub.insert(k, v);
            }
        }
        for k in std::iter::once(tag).chain(owned.iter().copied()) {
            if !self.taken.iter().any(|t| t == k) {
                self.taken.push(k.to_owned());
            }
        }
        let names: Vec<String> = variants.iter().map(|(n, _)| n.to_string()).collect();
        let chosen = match (self.table.remove(tag), default) {
            (Some(Value::String(s)), _) => s,
            (Some(other), _) => {
                return err(join(&self.key, tag), format!("{other} is not allowed (expected text in quotes)"))
            }
            (None, Some(d)) => d.to_owned(),
            (None, None) => return err(join(&self.key, tag), format!("missing (expected {})", or_list(&names))),
        };
        let Some((_, fields)) = variants.iter().find(|(n, _)| *n == chosen) else {
            let hint = did_you_mean(&chosen, &names);
            return err(
                join(&self.key, tag),
                format!("\"{chosen}\" is not allowed{hint} (expected {})", or_list(&names)),
            );
        };
        if let Some(stray) = sub.keys().find(|k| !fields.contains(&k.as_str())) {
            let all: Vec<&str> = self.common.iter().chain(fields.iter()).copied().collect();
            let own = if all.is_empty() { "none".to_owned() } else { all.join(", ") };
            return err(
                join(&self.key, stray),
                format!("`{stray}` is not used by {tag} \"{chosen}\" (its keys: {own})"),
            );
        }
        let mut outer = Table::new();
        outer.insert(chosen.clone(), Value::Table(sub));
        serde_path_to_error::deserialize(Value::Table(outer)).map_err(|e| {
            let path = e.path().to_string();
            let path = path.strip_prefix(&chosen).unwrap_or(&path).trim_start_matches('.');
            KeyError { key: join(&self.key, path), message: in_words(&e.into_inner().to_string()) }
        })
    }

    /// Reads the remaining keys as `C` (a struct that denies unknown fields).
    pub(crate) fn rest<C: DeserializeOwned>(self) -> Result<C, KeyError> {
        let Parts { key, table, taken, .. } = self;
        de_at(&key, Value::Table(table)).map_err(|mut e| {
            if e.message.contains("is not a key here") && !taken.is_empty() {
                e.message.push_str(&format!(" (and the keys of a choice: {})", taken.join(", ")));
            }
            e
        })
    }
}

/// The keys of a struct `T`, read off its `Deserialize` impl.
fn struct_fields<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut out = Vec::new();
    let _ = T::deserialize(Probe { variant: None, out: &mut out });
    out
}

/// Each variant of an externally tagged enum `V` of struct variants, with its fields.
fn variant_fields<V: DeserializeOwned>() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut names = Vec::new();
    let _ = V::deserialize(Probe { variant: None, out: &mut names });
    (0..names.len())
        .map(|i| {
            let mut fields = Vec::new();
            let _ = V::deserialize(Probe { variant: Some(i), out: &mut fields });
            (names[i], fields)
        })
        .collect()
}

/// Stops a probe once it has what it came for.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Stop
    }
}

/// A deserializer that records the fields a struct asks for, or an enum's variant names, or
/// (with `variant`) the fields of one of its variants.
struct Probe<'a> {
    variant: Option<usize>,
    out: &'a mut Vec<&'static str>,
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.out.extend_from_slice(fields);
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        match self.variant {
            None => {
                self.out.extend_from_slice(variants);
                Err(Stop)
            }
            Some(i) => visitor.visit_enum(ProbeVariant { name: variants[i], out: self.out }),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct ProbeVariant<'a> {
    name: &'static str,
    out: &'a mut Vec<&'static str>,
}

impl<'de, 'a> EnumAccess<'de> for ProbeVariant<'a> {
    type Error = Stop;
    type Variant = Self;

    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Stop> {
        let value = seed.deserialize(self.name.into_deserializer())?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for ProbeVariant<'_> {
    type Error = Stop;

    fn unit_variant(self) -> Result<(), Stop> {
        Ok(())
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value, Stop> {
        Err(Stop)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], _visitor: V) -> Result<V::Value, Stop> {
        self.out.extend_from_slice(fields);
        Err(Stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Shape {
        Fixed { delay_ms: f64 },
        Exponential { base_ms: Option<f64>, cap_ms: Option<f64> },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Common {
        max_attempts: Option<u32>,
    }

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn keys_are_read_off_the_types() {
        assert_eq!(struct_fields::<Common>(), vec!["max_attempts"]);
        let v = variant_fields::<Shape>();
        assert_eq!(v, vec![("fixed", vec!["delay_ms"]), ("exponential", vec!["base_ms", "cap_ms"])]);
    }

    #[test]
    fn a_choice_takes_its_keys_and_names_strays_and_typos() {
        let mut p = Parts::new::<Common>("r", table("backoff = \"fixed\"\ndelay_ms = 5\nmax_attempts = 2"));
        assert_eq!(p.take_tagged::<Shape>("backoff", "exponential").unwrap(), Shape::Fixed { delay_ms: 5.0 });
        assert_eq!(p.rest::<Common>().unwrap(), Common { max_attempts: Some(2) });
        let mut p = Parts::new::<Common>("r", table("backoff = \"fixed\"\ncap_ms = 5"));
        let e = p.take_tagged::<Shape>("backoff", "exponential").unwrap_err();
        assert_eq!(e.key, "r.cap_ms");
        assert!(
            e.message.contains("not used by backoff \"fixed\" (its keys: max_attempts, delay_ms)"),
            "{}",
            e.message
        );
        let mut p = Parts::new::<Common>("r", table("backoff = \"fixd\""));
        let e = p.take_tagged::<Shape>("backoff", "exponential").unwrap_err();
        assert_eq!(e.key, "r.backoff");
        assert!(
            e.message.contains("did you mean \"fixed\"") && e.message.contains("fixed or exponential"),
            "{}",
            e.message
        );
        let mut p = Parts::new::<Common>("r", table("base_ms = \"x\""));
        let e = p.take_tagged::<Shape>("backoff", "exponential").unwrap_err();
        assert_eq!(e.key, "r.base_ms");
        assert!(e.message.contains("expected a number"), "{}", e.message);
        let p = Parts::new::<Common>("r", table("max_atempts = 2"));
        let e = p.rest::<Common>().unwrap_err();
        assert!(e.message.contains("did you mean \"max_attempts\""), "{}", e.message);
    }
}
