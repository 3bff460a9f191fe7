//! `--config FILE` for `train`, `sample` and every `analyze` command: a TOML or JSON table
//! keyed by long flag names (`batch-size = 512` or `batch_size = 512`), merged in as flags
//! placed before the command line's own, so that flags given on the command line win.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, CommandFactory};

use crate::cli::Cli;
use crate::failure::{CliResult, Failure};

/// Flags a config file may not set: they choose what happens to existing output or state.
const NOT_IN_A_FILE: [&str; 3] = ["config", "resume", "force"];

/// The subcommand names down to the command that runs (`["analyze", "paths"]`).
#[cfg(test)]
fn leaf(matches: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let mut names = Vec::new();
    let mut at = matches;
    while let Some((name, sub)) = at.subcommand() {
        names.push(name.to_string());
        at = sub;
    }
    (names, at)
}

/// The value of `--config FILE` or `--config=FILE` among `tokens`.
fn config_flag(tokens: &[OsString]) -> Option<PathBuf> {
    let mut tokens = tokens.iter();
    while let Some(token) = tokens.next() {
        let text = token.to_string_lossy();
        if text == "--config" {
            return tokens.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// The command line `original` (program name first) parsed, with the --config file of the
/// command that runs merged in. The file is read before clap checks the command line, so a
/// required option (`analyze memorization --samples`) may come from the file. Help, version
/// and clap's own errors without a config file end the process as clap does.
pub fn parse_command_line(original: &[OsString]) -> CliResult<ArgMatches> {
    let command = crate::command_settings(Cli::command());
    let mut names = Vec::new();
    let mut at = &command;
    for token in original.iter().skip(1) {
        match token.to_str().and_then(|t| at.find_subcommand(t)) {
            Some(sub) => {
                names.push(sub.get_name().to_string());
                at = sub;
            }
            None => break,
        }
    }
    let takes_config = at.get_arguments().any(|a| a.get_long() == Some("config"));
    let path = takes_config
        .then(|| config_flag(&original[(1 + names.len()).min(original.len())..]))
        .flatten();
    let Some(path) = path else {
        return Ok(command.get_matches_from(original));
    };
    let file_flags = config_file_flags(&path, &names)?;
    merged_matches(&path, &names, file_flags, original)
}

/// Parses `program NAMES FILE-FLAGS REST`, where REST is what followed the subcommand names
/// in `original`.
fn merged_matches(
    path: &Path,
    names: &[String],
    file_flags: Vec<String>,
    original: &[OsString],
) -> CliResult<ArgMatches> {
    let mut argv: Vec<OsString> = original.iter().take(1 + names.len()).cloned().collect();
    argv.extend(file_flags.into_iter().map(OsString::from));
    argv.extend(original.iter().skip(1 + names.len()).cloned());
    crate::command_settings(Cli::command())
        .try_get_matches_from(argv)
        .map_err(|e| {
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                e.exit();
            }
            // clap's first line names the flag (the file's key) and the value it refused
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            Failure::usage(format!("{}: {first}", path.display()))
        })
}

/// The entries of a TOML or JSON config file as `--key=value` flags of the command `names`.
pub fn config_file_flags(path: &Path, names: &[String]) -> CliResult<Vec<String>> {
    let bad = |reason: String| Failure::usage(format!("config file {}: {reason}", path.display()));
    let text = fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let table: serde_json::Map<String, serde_json::Value> =
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => {
                let value: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
                serde_json::to_value(value)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .ok_or_else(|| bad("not a table of options".into()))?
            }
            Some("json") => serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?,
            _ => return Err(bad("the name must end in .toml or .json".into())),
        };
    let mut command = Cli::command();
    for name in names {
        command = command
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("{name} is a subcommand"))
            .clone();
    }
    let command_name = names.join(" ");
    let mut flags = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        let known = command
            .get_arguments()
            .any(|a| a.get_long() == Some(flag.as_str()));
        if !known || NOT_IN_A_FILE.contains(&flag.as_str()) {
            return Err(bad(format!("'{key}' is not an option of {command_name}")));
        }
        match value {
            serde_json::Value::Bool(true) => flags.push(format!("--{flag}")),
            serde_json::Value::Bool(false) => {}
            serde_json::Value::String(s) => flags.push(format!("--{flag}={s}")),
            serde_json::Value::Number(n) => flags.push(format!("--{flag}={n}")),
            other => {
                return Err(bad(format!(
                    "'{key}' must be a string, number or boolean, got {other}"
                )))
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command an example config is for, from its name: `train-*`, `sample-*` or
    /// `analyze-SUBCOMMAND-*`.
    fn command_of(file: &Path) -> Vec<String> {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let mut parts = stem.split('-');
        match parts.next().unwrap() {
            "analyze" => vec!["analyze".into(), parts.next().unwrap().into()],
            first => vec![first.into()],
        }
    }

    /// Every file in examples/configs names options of its command with values those options
    /// accept.
    #[test]
    fn example_configs_parse_as_their_commands() {
        let package = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let dir = package.join("examples/configs");
        let mut seen = 0;
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let names = command_of(&path);
            let flags = config_file_flags(&path, &names)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!flags.is_empty(), "{}", path.display());
            let original: Vec<OsString> = std::iter::once("scorelab".to_string())
                .chain(names.iter().cloned())
                .map(OsString::from)
                .collect();
            let matches = merged_matches(&path, &names, flags, &original)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(leaf(&matches).0, names);
            seen += 1;
        }
        assert!(seen >= 4, "only {seen} example configs");
    }

    #[test]
    fn file_flags_go_before_the_command_line_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        fs::write(&file, "n = 7\nsteps = 11\n").unwrap();
        let names = vec!["sample".to_string()];
        let flags = config_file_flags(&file, &names).unwrap();
        let original: Vec<OsString> = ["scorelab", "sample", "--steps", "5"]
            .map(OsString::from)
            .to_vec();
        let matches = merged_matches(&file, &names, flags, &original).unwrap();
        let sub = matches.subcommand_matches("sample").unwrap();
        assert_eq!(sub.get_one::<usize>("n"), Some(&7));
        assert_eq!(sub.get_one::<usize>("steps"), Some(&5));

        fs::write(&file, "force = true\n").unwrap();
        let err = config_file_flags(&file, &names).unwrap_err().to_string();
        assert!(err.contains("'force' is not an option of sample"), "{err}");
        let paths = vec!["analyze".to_string(), "paths".to_string()];
        fs::write(&file, "stepz = 3\n").unwrap();
        let err = config_file_flags(&file, &paths).unwrap_err().to_string();
        assert!(
            err.contains("'stepz' is not an option of analyze paths"),
            "{err}"
        );
    }
}
