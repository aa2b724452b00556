//! Loading a scenario: a catalog name or a file, `--set` overrides, the seed, and validation.

use std::path::Path;

use crate::file::ScenarioFile;
use crate::overrides::{self, Override, Segment};
use crate::suggest::did_you_mean;
use crate::{catalog, Scenario, ScenarioError, Source};

/// Loads a catalog name or a file, applies `overrides` and `seed`, and validates the result.
pub fn load(name_or_path: &str, overrides: &[String], seed: Option<u64>) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name_or_path);
    let (text, label, default_name, source) = if let Some(text) = catalog::get(name_or_path) {
        let label = format!("catalog/{name_or_path}.toml");
        (text.to_owned(), label, name_or_path.to_owned(), Source::Catalog(name_or_path.to_owned()))
    } else if path.is_file() || name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Io { file: name_or_path.to_owned(), message: e.to_string() })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario").to_owned();
        (text, name_or_path.to_owned(), stem, Source::File(name_or_path.to_owned()))
    } else {
        return Err(ScenarioError::NotFound { given: name_or_path.to_owned(), catalog: catalog::names() });
    };
    let mut scenario = parse(&text, &label, &default_name, source, overrides)?;
    if let Some(seed) = seed {
        // A seed is written into the scenario as run, and TOML integers stop at i64::MAX.
        if i64::try_from(seed).is_err() {
            return Err(ScenarioError::Override(format!(
                "--seed {seed}: too large (expected a whole number from 0 to {})",
                i64::MAX
            )));
        }
        scenario.spec.seed = seed;
    }
    Ok(scenario)
}

/// Parses scenario text directly (for tests and tools), naming it `label` in errors.
pub fn from_str(text: &str, label: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    parse(text, label, label, Source::File(label.to_owned()), overrides)
}

/// Parses scenario text (named `label` in messages) with overrides applied.
fn parse(
    text: &str,
    label: &str,
    default_name: &str,
    source: Source,
    sets: &[String],
) -> Result<Scenario, ScenarioError> {
    let parsed: Vec<Override> =
        sets.iter().map(|o| Override::parse(o)).collect::<Result<_, _>>().map_err(ScenarioError::Override)?;
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|e| ScenarioError::Syntax { file: label.to_owned(), message: e.to_string() })?;
    no_new_services(&doc, &parsed)?;
    overrides::apply_all(&mut doc, &parsed).map_err(ScenarioError::Override)?;
    let key_error =
        |e: crate::file::KeyError| ScenarioError::Key { file: label.to_owned(), key: e.key, message: e.message };
    let file = ScenarioFile::from_table(doc.clone()).map_err(key_error)?;
    let parsed = file.into_spec(default_name).map_err(key_error)?;
    if let Some(swarm) = &parsed.swarm {
        check_knobs(&doc, swarm, default_name).map_err(key_error)?;
    }
    Ok(Scenario {
        spec: parsed.spec,
        description: parsed.description,
        source,
        overrides: sets.to_vec(),
        document: Some(doc),
        warnings: parsed.warnings,
        expect: parsed.expect,
        swarm: parsed.swarm,
        swarm_base: None,
        edited: false,
    })
}

/// Every `[swarm]` knob at both ends of its range makes a valid scenario (so every value a seed
/// draws between them does), and none invents a service.
fn check_knobs(doc: &toml::Table, swarm: &crate::swarm::SwarmSpec, name: &str) -> Result<(), crate::file::KeyError> {
    for (key, a, b) in &swarm.knobs {
        let at = format!("swarm.knobs.\"{key}\"");
        let fail = |message: String| crate::file::KeyError { key: at.clone(), message };
        for v in [*a, *b] {
            let o = Override::parse(&format!("{key}={}", crate::swarm::knob_value(v, *a, *b))).map_err(fail)?;
            no_new_services(doc, std::slice::from_ref(&o)).map_err(|_| {
                fail(
                    "names a service the scenario does not have (a knob changes a key, it cannot add a service)"
                        .to_owned(),
                )
            })?;
            let mut d = doc.clone();
            overrides::apply_all(&mut d, &[o]).map_err(fail)?;
            ScenarioFile::from_table(d)
                .and_then(|f| f.into_spec(name))
                .map_err(|e| fail(format!("at {v}, `{}`: {}", e.key, e.message)))?;
        }
    }
    Ok(())
}

/// `original` with its document replaced by `doc` (and `sets` more overrides noted), read and
/// validated again.
pub(crate) fn revalidate(
    original: &Scenario,
    doc: toml::Table,
    sets: &[String],
    edited: bool,
) -> Result<Scenario, ScenarioError> {
    let label = original.source.as_arg();
    let key_error =
        |e: crate::file::KeyError| ScenarioError::Key { file: label.to_owned(), key: e.key, message: e.message };
    let file = ScenarioFile::from_table(doc.clone()).map_err(key_error)?;
    let parsed = file.into_spec(&original.spec.name).map_err(key_error)?;
    Ok(Scenario {
        spec: parsed.spec,
        description: parsed.description,
        source: original.source.clone(),
        overrides: original.overrides.iter().chain(sets).cloned().collect(),
        document: Some(doc),
        warnings: parsed.warnings,
        expect: parsed.expect,
        swarm: parsed.swarm,
        swarm_base: original.swarm_base.clone(),
        edited: original.edited || edited,
    })
}

/// A `--set` under `services.NAME` for a service the file does not have is a misspelt name,
/// not a new service nobody calls.
fn no_new_services(doc: &toml::Table, sets: &[Override]) -> Result<(), ScenarioError> {
    let known: Vec<String> =
        doc.get("services").and_then(|s| s.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default();
    for o in sets {
        if let [Segment::Key(top), Segment::Key(name), ..] = o.path.as_slice() {
            if top == "services" && !known.contains(name) {
                return Err(ScenarioError::Override(format!(
                    "--set \"{}\": there is no service \"{name}\"{} (services: {}); a --set changes a service, it cannot add one",
                    o.text,
                    did_you_mean(name, &known),
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}
