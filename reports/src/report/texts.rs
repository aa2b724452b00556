//! The report's words, one catalogue per language (`reports/i18n/<lang>.toml`): a translator
//! edits that file, never the code. A key missing from a catalogue shows as `⟦key⟧` (tests look
//! for it), never as a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

const EN: &str = include_str!("../../i18n/en.toml");
const KO: &str = include_str!("../../i18n/ko.toml");

/// A report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Korean.
    Ko,
}

impl Lang {
    /// Both, in the order reports list them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// `en` or `ko`.
    pub fn code(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Lang, String> {
        match s {
            "en" => Ok(Lang::En),
            "ko" => Ok(Lang::Ko),
            _ => Err(format!("--lang {s:?}: a report is written in en (English) or ko (Korean)")),
        }
    }
}

/// One language's texts.
#[derive(Debug, Clone)]
pub struct Texts {
    map: BTreeMap<String, String>,
}

impl Texts {
    /// The catalogue of `lang`.
    pub fn of(lang: Lang) -> Texts {
        Texts { map: parse(if lang == Lang::En { EN } else { KO }) }
    }

    /// The text of `key`.
    pub fn t(&self, key: &str) -> String {
        self.map.get(key).cloned().unwrap_or_else(|| format!("⟦{key}⟧"))
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, args: &[(&str, String)]) -> String {
        let mut s = self.t(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// Whether the catalogue has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The keys, for checking that the catalogues match.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }
}

/// Reads `key = "text"` lines (TOML basic strings; `#` comments).
fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.trim().to_owned(), serde_json::from_str::<String>(v.trim()).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys_and_every_line_parses() {
        let (en, ko) = (Texts::of(Lang::En), Texts::of(Lang::Ko));
        let (a, b): (Vec<_>, Vec<_>) = (en.keys().collect(), ko.keys().collect());
        assert_eq!(a, b, "en.toml and ko.toml must have the same keys");
        for (lang, text) in [("en", EN), ("ko", KO)] {
            let lines = text.lines().filter(|l| l.contains('=') && !l.trim_start().starts_with('#')).count();
            assert_eq!(parse(text).len(), lines, "{lang}.toml: a line did not parse");
        }
        assert!(a.len() > 100);
        assert_eq!(ko.t("pattern_breaker"), "서킷 브레이커");
        assert_eq!(en.f("title_run", &[("scenario", "x".into()), ("seed", "7".into())]), "x, seed 7");
        assert_eq!(en.t("no_such_key"), "⟦no_such_key⟧");
    }
}
