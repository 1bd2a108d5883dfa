//! Arguments back into a command line: how the lab starts `saelab` jobs from the same typed
//! arguments the parser produces, so the two cannot drift (a test parses each one back).

use std::fmt::Display;

use clap::ValueEnum;

/// A subcommand's arguments, written as the argv that parses back to them.
pub trait ToArgv {
    /// `[subcommand, args…]`, without the program name or global options.
    fn to_argv(&self) -> Vec<String>;
}

/// Builds an argv one option at a time.
#[derive(Debug, Default)]
pub struct Argv(Vec<String>);

impl Argv {
    pub fn new(subcommand: &str) -> Self {
        Argv(vec![subcommand.to_string()])
    }

    pub fn arg(mut self, value: impl Display) -> Self {
        self.0.push(value.to_string());
        self
    }

    pub fn opt(self, flag: &str, value: impl Display) -> Self {
        self.arg(flag).arg(value)
    }

    pub fn opt_some<T: Display>(self, flag: &str, value: Option<T>) -> Self {
        match value {
            Some(v) => self.opt(flag, v),
            None => self,
        }
    }

    pub fn flag(self, flag: &str, on: bool) -> Self {
        if on {
            self.arg(flag)
        } else {
            self
        }
    }

    /// A comma-separated list (`value_delimiter = ','`); nothing when empty.
    pub fn list<T: Display>(self, flag: &str, values: &[T]) -> Self {
        if values.is_empty() {
            return self;
        }
        let joined: Vec<String> = values.iter().map(T::to_string).collect();
        self.opt(flag, joined.join(","))
    }

    /// The flag once per value (`Vec` options without a delimiter).
    pub fn each<T: Display>(self, flag: &str, values: &[T]) -> Self {
        values.iter().fold(self, |a, v| a.opt(flag, v))
    }

    /// A value-enum option under the name clap gives the variant.
    pub fn choice<E: ValueEnum>(self, flag: &str, value: E) -> Self {
        match value.to_possible_value() {
            Some(v) => self.opt(flag, v.get_name()),
            None => self,
        }
    }

    pub fn done(self) -> Vec<String> {
        self.0
    }
}
