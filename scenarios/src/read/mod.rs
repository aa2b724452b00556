//! Reading TOML into typed values, shared by the scenario file and the pattern tables: [`de`]
//! reads tables with errors in the scenario's words and tagged choices; [`units`] are values
//! with units and ranges.

pub(crate) mod de;
pub(crate) mod units;

/// What parsing learns on the way: the services (for keys that name one) and warnings.
#[derive(Debug, Default)]
pub(crate) struct Cx {
    /// The services' names.
    pub(crate) services: Vec<String>,
    /// Things allowed but probably not meant, one line each.
    pub(crate) warnings: Vec<String>,
}
