//! `saelab eval`: measures the evaluation card of finished runs, keeps it in each run's
//! `card.json` and prints it.

use super::tables::print_json;
use super::Ctx;
use crate::engine::card::{evaluate_card, Card};
use crate::engine::report::tables::{card_table, CARD_LEGEND};
use crate::engine::run::{list_runs, Status};

pub fn run(ctx: &Ctx, names: &[String]) -> anyhow::Result<()> {
    let names: Vec<String> = if names.is_empty() {
        list_runs(&ctx.ws, &[])?
            .into_iter()
            .filter(|r| r.status == Status::Done)
            .map(|r| r.run)
            .collect()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        anyhow::bail!("no finished runs to evaluate: `saelab sweep --data demo` trains some");
    }
    let mut cards: Vec<Card> = Vec::new();
    for name in &names {
        ctx.note(&format!("measuring the card of {name}…"));
        cards.push(evaluate_card(&ctx.ws, name)?);
    }
    if ctx.json {
        return print_json(&cards);
    }
    print!("{}", card_table(&cards));
    ctx.note(CARD_LEGEND);
    Ok(())
}
