//! `scorelab inspect PATH`: the rows of `scorelab_train::inspect` on one screen.

use scorelab_core::options::{as_flag, spell_options};

use crate::cli::InspectArgs;
use crate::failure::CliResult;

pub fn run(args: &InspectArgs) -> CliResult<()> {
    for (name, text) in scorelab_train::inspect::inspect(&args.path)? {
        println!("{name:<12}{}", spell_options(&text, as_flag));
    }
    Ok(())
}
