//! Datasets for the benchmarks: a neighbourhood with its members, favours, items, stalls and products,
//! built as the rules' own entities and written through the stores' own paths (`Store::write_effects`,
//! `Store::apply_pulled` on the device; `Tx::put` on the server), each in one transaction.
//!
//! Everything is seeded, so two runs measure the same data. Texts are drawn from a [`Vocabulary`]: by
//! default 98 everyday words, each as likely (every searched word is in 15–30 % of the texts: the
//! full-text search's worst case), or a long-tailed one in which words are as frequent as in real
//! text. Places are cells in a square around [`home`]. To add a kind of data, add a constructor here
//! and a count to [`Counts`].

use quartier_core::domain::*;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Monday 2 March 2026, 09:00 UTC: the clock of every generated entity.
pub const T0: i64 = 1_772_442_000_000;
pub const NID: &str = "bench-town";

const WORDS: &[&str] = &[
    "drill",
    "ladder",
    "raclette",
    "bike",
    "plants",
    "garden",
    "tomatoes",
    "radishes",
    "apples",
    "bread",
    "cheese",
    "honey",
    "eggs",
    "soup",
    "tent",
    "saw",
    "hammer",
    "sewing",
    "machine",
    "stroller",
    "books",
    "guitar",
    "piano",
    "lessons",
    "moving",
    "boxes",
    "van",
    "paint",
    "brushes",
    "tiles",
    "kitchen",
    "mixer",
    "oven",
    "fridge",
    "cat",
    "dog",
    "walk",
    "water",
    "mail",
    "keys",
    "shelf",
    "lamp",
    "chairs",
    "table",
    "party",
    "projector",
    "speaker",
    "camera",
    "tripod",
    "skis",
    "boots",
    "helmet",
    "scooter",
    "pump",
    "tyre",
    "chain",
    "lock",
    "bag",
    "basket",
    "jam",
    "carrots",
    "leeks",
    "onions",
    "garlic",
    "herbs",
    "flowers",
    "seeds",
    "compost",
    "rake",
    "shovel",
    "hose",
    "mower",
    "hedge",
    "trimmer",
    "vacuum",
    "iron",
    "board",
    "games",
    "puzzle",
    "lego",
    "crib",
    "high",
    "chair",
    "toys",
    "homework",
    "maths",
    "french",
    "english",
    "computer",
    "printer",
    "phone",
    "repair",
    "fix",
    "sew",
    "knit",
    "bake",
    "cook",
    "clean",
];
const CATEGORIES: &[&str] = &["garden", "repairs", "kitchen", "kids", "tools", "sport", "music", "moving"];
const UNITS: &[&str] = &["kg", "bunch", "piece", "jar", "dozen"];

/// Where the generator's words come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vocabulary {
    /// [`WORDS`], each as likely: a searched word is in 15–30 % of the texts, so its list of matches
    /// is tens of thousands long. Every benchmark but one uses it (the figures of earlier runs too).
    Narrow,
    /// [`LongTail`]: words as frequent as in real text.
    LongTailed,
}

/// A long-tailed vocabulary: [`LongTail::WORDS`] made-up words (two or three syllables, so that a
/// few start with another, as "drill" and "drilling" do), the one of rank r written with a frequency
/// proportional to 1/r (Zipf's law, which word frequencies in text follow). A search is for a word
/// drawn as often as it is written, leaving out the [`LongTail::UNSEARCHED`] most frequent ones: in
/// real text those are the function words (the, and, for, with…), which nobody searches for.
#[derive(Debug)]
pub struct LongTail {
    words: Vec<String>,
    written: WeightedIndex<f64>,
    searched: WeightedIndex<f64>,
}

impl LongTail {
    pub const WORDS: usize = 10_000;
    pub const UNSEARCHED: usize = 100;

    /// The vocabulary: the same in every run and every generator.
    pub fn get() -> &'static LongTail {
        static VOCABULARY: OnceLock<LongTail> = OnceLock::new();
        VOCABULARY.get_or_init(|| {
            const ONSETS: &[&str] =
                &["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "ch", "pl", "tr"];
            const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou"];
            let mut rng = StdRng::seed_from_u64(1);
            let mut seen = HashSet::new();
            let mut words = Vec::with_capacity(LongTail::WORDS);
            while words.len() < LongTail::WORDS {
                let syllables = rng.random_range(2..=3);
                let word: String = (0..syllables)
                    .map(|_| {
                        let onset = ONSETS[rng.random_range(0..ONSETS.len())];
                        format!("{onset}{}", VOWELS[rng.random_range(0..VOWELS.len())])
                    })
                    .collect();
                if seen.insert(word.clone()) {
                    words.push(word);
                }
            }
            let zipf = |from: usize| {
                let weights =
                    (1..=LongTail::WORDS).map(|rank| if rank > from { 1.0 / rank as f64 } else { 0.0 });
                WeightedIndex::new(weights).unwrap_or_else(|e| unreachable!("positive weights: {e}"))
            };
            LongTail { words, written: zipf(0), searched: zipf(LongTail::UNSEARCHED) }
        })
    }
}

impl Vocabulary {
    /// Its name in the report.
    pub fn describe(self) -> String {
        match self {
            Vocabulary::Narrow => format!("{}-word vocabulary (the worst case)", WORDS.len()),
            Vocabulary::LongTailed => format!("long-tailed vocabulary ({} words, Zipf)", LongTail::WORDS),
        }
    }

    /// A word as written in a text.
    fn written(self, rng: &mut StdRng) -> &'static str {
        self.draw(rng, |tail| &tail.written)
    }

    /// A word as searched for.
    fn searched(self, rng: &mut StdRng) -> &'static str {
        self.draw(rng, |tail| &tail.searched)
    }

    /// A word of [`WORDS`], each as likely, or of [`LongTail`] by the frequencies `zipf` picks.
    fn draw(self, rng: &mut StdRng, zipf: fn(&LongTail) -> &WeightedIndex<f64>) -> &'static str {
        match self {
            Vocabulary::Narrow => WORDS[rng.random_range(0..WORDS.len())],
            Vocabulary::LongTailed => {
                let tail = LongTail::get();
                &tail.words[zipf(tail).sample(rng)]
            }
        }
    }
}

/// A cell in Paris 11e, around which the neighbourhood lives.
pub fn home() -> Cell {
    Cell::from_coordinates(48.8590, 2.3800).unwrap_or(Cell { row: 0, col: 0 })
}

/// How much to generate.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub members: usize,
    pub favours: usize,
    pub items: usize,
    pub products: usize,
}

impl Counts {
    /// About `n` entities in all: 1,000 members, half favours, a quarter items, the rest market.
    pub fn about(n: usize) -> Counts {
        let members = 1000.min(n / 4).max(1);
        let favours = n.saturating_sub(members) / 2;
        let items = n.saturating_sub(members) / 4;
        let products = (n.saturating_sub(1 + members + favours + items) * 100) / 101;
        Counts { members, favours, items, products }
    }

    pub fn total(&self) -> usize {
        // + the neighbourhood, + one stall per 100 products.
        1 + self.members + self.favours + self.items + self.products + self.products.div_ceil(100)
    }
}

/// A member's id.
pub fn member_id(i: usize) -> String {
    format!("p{i:06}")
}

fn stamp(i: usize) -> Hlc {
    Hlc::new(u64::try_from(T0).unwrap_or(0) + i as u64, 0, 7)
}

/// Generates entities in a fixed order: the neighbourhood, members, favours, items, stalls, products.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    counts: Counts,
    next: usize,
    nid: String,
    vocabulary: Vocabulary,
}

impl Generator {
    pub fn new(counts: Counts, seed: u64) -> Generator {
        Generator::in_neighbourhood(NID, counts, seed)
    }

    /// Generates the neighbourhood `nid` instead of [`NID`].
    pub fn in_neighbourhood(nid: &str, counts: Counts, seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            counts,
            next: 0,
            nid: nid.to_owned(),
            vocabulary: Vocabulary::Narrow,
        }
    }

    /// The same, its texts written (and its searched words drawn) from `vocabulary`.
    pub fn with_vocabulary(self, vocabulary: Vocabulary) -> Generator {
        Generator { vocabulary, ..self }
    }

    fn title(&mut self, words: usize) -> String {
        (0..words).map(|_| self.vocabulary.written(&mut self.rng)).collect::<Vec<_>>().join(" ")
    }

    fn category(&mut self) -> String {
        CATEGORIES[self.rng.random_range(0..CATEGORIES.len())].to_owned()
    }

    /// A cell at most 15 cells (12 km) from home in each direction.
    pub fn cell(&mut self) -> Cell {
        let home = home();
        Cell {
            row: home.row + self.rng.random_range(0..31) - 15,
            col: home.col + self.rng.random_range(0..31) - 15,
        }
    }

    fn author(&mut self) -> String {
        member_id(self.rng.random_range(0..self.counts.members.max(1)))
    }

    /// A member other than the `than`th (the same one if the neighbourhood has no other).
    fn other_member(&mut self, than: usize) -> String {
        let members = self.counts.members;
        if members < 2 {
            return member_id(than);
        }
        let other = self.rng.random_range(0..members - 1);
        member_id(if other >= than { other + 1 } else { other })
    }

    fn entity(&mut self, n: usize) -> Entity {
        let c = self.counts;
        let at = stamp(n);
        let nid = self.nid.clone();
        let stalls = c.products.div_ceil(100);
        if n == 0 {
            return Entity::Neighbourhood(Neighbourhood {
                id: nid,
                name: "Bench town".into(),
                description: "A large neighbourhood for benchmarks".into(),
                cell: Some(home()),
                created_by: member_id(0),
                created_at: T0,
                updated: at,
            });
        }
        let mut i = n - 1;
        if i < c.members {
            let cell = Some(self.cell());
            return Entity::Member(Member {
                neighbourhood_id: nid,
                id: member_id(i),
                display_name: format!("Neighbour {i}"),
                bio: self.title(6),
                skills: vec![self.category()],
                cell,
                role: if i == 0 { Role::Moderator } else { Role::Member },
                status: MemberStatus::Active,
                invited_by: (i > 0).then(|| member_id(0)),
                invitation_id: None,
                joined_at: T0,
                profile_hlc: at,
                updated: at,
            });
        }
        i -= c.members;
        if i < c.favours {
            // As in a neighbourhood that has been going a while: most favours open, a third promised,
            // done or thanked by another member (who is then their counterpart), some cancelled.
            let status = match self.rng.random_range(0..10) {
                0..=5 => FavourStatus::Open,
                6 => FavourStatus::Promised,
                7 => FavourStatus::Done,
                8 => FavourStatus::Thanked,
                _ => FavourStatus::Cancelled,
            };
            let (title, details, category, cell) =
                (self.title(4), self.title(12), self.category(), self.cell());
            let author = self.rng.random_range(0..c.members.max(1));
            let counterpart = match status {
                FavourStatus::Promised | FavourStatus::Done | FavourStatus::Thanked => {
                    Some(self.other_member(author))
                }
                FavourStatus::Open | FavourStatus::Cancelled => None,
            };
            return Entity::Favour(Favour {
                neighbourhood_id: nid,
                id: format!("f{i:07}"),
                author: member_id(author),
                kind: if i % 3 == 0 { FavourKind::Offer } else { FavourKind::Ask },
                title,
                details,
                category,
                window: None,
                cell: Some(cell),
                status,
                counterpart,
                thanks_note: None,
                created_at: T0 + i as i64,
                updated: at,
            });
        }
        i -= c.favours;
        if i < c.items {
            let (title, description, category, cell) =
                (self.title(3), self.title(10), self.category(), self.cell());
            return Entity::Item(Item {
                neighbourhood_id: nid,
                id: format!("i{i:07}"),
                owner: self.author(),
                title,
                description,
                category,
                condition: Condition::Good,
                deposit_note: "none".into(),
                cell: Some(cell),
                withdrawn: false,
                created_at: T0 + i as i64,
                updated: at,
            });
        }
        i -= c.items;
        if i < stalls {
            let cell = Some(self.cell());
            return Entity::Stall(Stall {
                neighbourhood_id: nid,
                id: format!("s{i:05}"),
                owner: member_id(i % c.members.max(1)),
                name: format!("Stall {i}"),
                market: "Marché d'Aligre".into(),
                days: vec![2, 6, 7],
                opens_min: 7 * 60,
                closes_min: 13 * 60,
                place: "row B".into(),
                cell,
                created_at: T0,
                updated: at,
            });
        }
        i -= stalls;
        let stall = i / 100;
        let name = self.title(2);
        Entity::Product(Product {
            neighbourhood_id: nid,
            id: format!("pr{i:07}"),
            stall_id: format!("s{stall:05}"),
            owner: member_id(stall % c.members.max(1)),
            name,
            unit: UNITS[i % UNITS.len()].into(),
            price_cents: self.rng.random_range(50..5000),
            stock: 100,
            reserved: 0,
            available_today: true,
            removed: false,
            details_hlc: at,
            price_hlc: at,
            available_hlc: at,
            stocktake_hlc: at,
            moves: Vec::new(),
            created_at: T0,
            updated: at,
        })
    }

    /// The next `n` entities (fewer at the end).
    pub fn batch(&mut self, n: usize) -> Vec<Entity> {
        let end = (self.next + n).min(self.counts.total());
        let batch = (self.next..end).map(|i| self.entity(i)).collect();
        self.next = end;
        batch
    }

    /// A word to search for, as people search the vocabulary's texts.
    pub fn word(&mut self) -> &'static str {
        self.vocabulary.searched(&mut self.rng)
    }
}

/// A favour posted by `author` on this device, as the person would (a local mutation).
pub fn favour_post(id: &str, rng_title: &str, cell: Cell) -> mutation::FavourPost {
    mutation::FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: rng_title.into(),
        details: "Saturday morning if possible".into(),
        category: "garden".into(),
        window: None,
        cell: Some(cell),
    }
}

/// Puts of these entities.
pub fn puts(entities: Vec<Entity>) -> Vec<Effect> {
    entities.into_iter().map(|entity| Effect::Put { entity }).collect()
}
