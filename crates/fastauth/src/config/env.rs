//! A small reader over the variables: `.env` first, the process environment over it. Empty
//! values count as unset, as FastAuthCore's `.env` files often carry `SMTP_HOST=`.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A bad setting: which variable, and what is wrong with it (never its value: it may be secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(var: &str, problem: impl fmt::Display) -> Self {
        Self { var: var.to_owned(), problem: problem.to_string() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// The variables fastauth reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// `.env` in the working directory, overridden by the real environment.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        match dotenvy::from_path_iter(".env") {
            Ok(iter) => {
                for item in iter {
                    let (k, v) = item.map_err(|e| ConfigError::new(".env", format!("cannot be read: {e}")))?;
                    vars.insert(k, v);
                }
            }
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", format!("cannot be read: {e}"))),
        }
        vars.extend(std::env::vars());
        Ok(Self { vars })
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self { vars: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_owned(), value.to_owned());
    }

    /// The trimmed value, or `None` when unset or empty.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::new(name, format!("is not a valid {}", type_word::<T>()))),
        }
    }

    /// A number within `range`.
    pub fn get_in<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let value = self.get(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::new(name, format!("must be between {} and {}", range.start(), range.end())))
        }
    }

    pub fn parse_with<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.raw(name).map(|v| parse(v).map_err(|p| ConfigError::new(name, p))).transpose()
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        let parsed = self.parse_with(name, |v| match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err("must be true or false".into()),
        })?;
        Ok(parsed.unwrap_or(default))
    }

    /// A comma-separated list with empty items dropped; `None` when unset.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.vars
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

fn type_word<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.contains("SocketAddr") {
        "host:port address"
    } else if name.starts_with('u') || name.starts_with('i') {
        "whole number"
    } else {
        "value"
    }
}
