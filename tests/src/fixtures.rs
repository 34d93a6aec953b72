//! Mutations the end-to-end tests start from: a neighbourhood, a market stall, a product. Tests change
//! the fields they care about with struct update syntax (`StallOpen { cell, ..stall("s", "Tom") }`).

use quartier_core::domain::mutation::{NeighbourhoodCreate, ProductAdd, StallOpen};

/// Founding a neighbourhood `name`, its founder shown as `display_name`.
pub fn neighbourhood(name: &str, display_name: &str) -> NeighbourhoodCreate {
    NeighbourhoodCreate {
        name: name.into(),
        description: String::new(),
        cell: None,
        display_name: display_name.into(),
    }
}

/// A stall at the Aligre market, open on Saturdays from 8:00 to 13:00.
pub fn stall(id: &str, name: &str) -> StallOpen {
    StallOpen {
        id: id.into(),
        name: name.into(),
        market: "Aligre".into(),
        days: vec![6],
        opens_min: 480,
        closes_min: 780,
        place: String::new(),
        cell: None,
    }
}

/// A product sold by the bunch at 1.50, available today, with `stock` in stock.
pub fn product(id: &str, stall_id: &str, name: &str, stock: i64) -> ProductAdd {
    ProductAdd {
        id: id.into(),
        stall_id: stall_id.into(),
        name: name.into(),
        unit: "bunch".into(),
        price_cents: 150,
        stock,
        available_today: true,
    }
}
