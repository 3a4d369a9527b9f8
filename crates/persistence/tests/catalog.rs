//! Catalog repositories (locations, program types, trainers, membership plans) on both backends.

mod common;

use cohai_domain::{Location, NewLocation, ProgramLevel};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{location, plan, program_type, rub, trainer};
use cohai_persistence::testing::{Backend, TestDatabase};
use common::catalog;

/// Names whose byte order differs from any linguistic collation.
const MIXED_NAMES: [&str; 5] = ["Zeta", "alpha", "Ёлка", "Яблоко", "Ángel"];

/// `names` sorted as Rust compares `str` (UTF-8 bytes, i.e. code points).
fn code_point_sorted(names: &[&str]) -> Vec<String> {
    let mut sorted: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    sorted.sort();
    sorted
}

// ---------------------------------------------------------------- locations

fn location_create_returns_the_stored_row_with_a_new_id(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let new = location("Центр");
    let created = repos.locations.create(&new).expect("create");
    assert!(created.id > 0);
    assert_eq!(
        created,
        Location {
            id: created.id,
            name: new.name.clone(),
            address: new.address.clone(),
            city: new.city.clone(),
            phone: new.phone.clone(),
            timezone: new.timezone.clone(),
            is_active: true,
            version: 1,
        }
    );
    let other = repos.locations.create(&location("Север")).expect("create");
    assert_ne!(other.id, created.id);
}

fn location_get_by_id_returns_active_and_inactive_rows_and_none_for_unknown_id(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let active = repos.locations.create(&location("Центр")).expect("create");
    let inactive = repos
        .locations
        .create(&NewLocation {
            is_active: false,
            phone: None,
            ..location("Закрыта")
        })
        .expect("create");
    assert_eq!(
        repos.locations.get_by_id(active.id).expect("get"),
        Some(active.clone())
    );
    let got = repos
        .locations
        .get_by_id(inactive.id)
        .expect("get")
        .expect("inactive row is found");
    assert!(!got.is_active);
    assert_eq!(got.phone, None);
    assert_eq!(
        repos.locations.get_by_id(inactive.id + 1000).expect("get"),
        None
    );
}

fn location_update_replaces_every_field_and_null_clears_the_phone(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = repos.locations.create(&location("Центр")).expect("create");
    let replacement = NewLocation {
        name: "Центр-2".into(),
        address: "Невский пр., 10".into(),
        city: "Санкт-Петербург".into(),
        phone: None,
        timezone: "Europe/Kaliningrad".into(),
        is_active: false,
    };
    let updated = repos
        .locations
        .update(created.id, &replacement)
        .expect("update")
        .expect("row exists");
    let expected = Location {
        id: created.id,
        name: replacement.name.clone(),
        address: replacement.address.clone(),
        city: replacement.city.clone(),
        phone: None,
        timezone: replacement.timezone.clone(),
        is_active: false,
        version: created.version + 1,
    };
    assert_eq!(updated, expected);
    assert_eq!(
        repos.locations.get_by_id(created.id).expect("get"),
        Some(expected)
    );
}

fn location_update_of_unknown_id_returns_none_and_changes_nothing(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = repos.locations.create(&location("Центр")).expect("create");
    assert_eq!(
        repos
            .locations
            .update(created.id + 1, &location("Другая"))
            .expect("update"),
        None
    );
    assert_eq!(repos.locations.list_active().expect("list"), vec![created]);
}

fn location_delete_removes_the_row_and_reports_false_the_second_time(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let kept = repos.locations.create(&location("Север")).expect("create");
    let gone = repos.locations.create(&location("Юг")).expect("create");
    assert!(repos.locations.delete(gone.id).expect("delete"));
    assert_eq!(repos.locations.get_by_id(gone.id).expect("get"), None);
    assert!(!repos.locations.delete(gone.id).expect("delete again"));
    assert!(!repos.locations.delete(9_999).expect("delete unknown"));
    assert_eq!(repos.locations.list_active().expect("list"), vec![kept]);
}

fn location_list_active_orders_by_code_point_and_hides_inactive(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for name in MIXED_NAMES {
        repos.locations.create(&location(name)).expect("create");
    }
    repos
        .locations
        .create(&NewLocation {
            is_active: false,
            ..location("Бета")
        })
        .expect("create inactive");
    let names: Vec<String> = repos
        .locations
        .list_active()
        .expect("list")
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, code_point_sorted(&MIXED_NAMES));
    assert_eq!(names, ["Zeta", "alpha", "Ángel", "Ёлка", "Яблоко"]);
}

fn location_list_active_is_empty_without_rows(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert!(
        t.db.repositories()
            .locations
            .list_active()
            .expect("list")
            .is_empty()
    );
}

fn location_find_by_name_matches_the_exact_name_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let centre = repos.locations.create(&location("Центр")).expect("create");
    let closed = repos
        .locations
        .create(&NewLocation {
            is_active: false,
            ..location("Закрыта")
        })
        .expect("create");
    assert_eq!(
        repos.locations.find_by_name("Центр").expect("find"),
        Some(centre)
    );
    assert_eq!(
        repos.locations.find_by_name("Закрыта").expect("find"),
        Some(closed),
        "inactive locations are found by name too"
    );
    for miss in ["центр", "ЦЕНТР", "Цент", "Центр ", "%", "_____", ""] {
        assert_eq!(
            repos.locations.find_by_name(miss).expect("find"),
            None,
            "{miss:?}"
        );
    }
}

fn location_delete_cascades_to_its_plans_and_sessions(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let other = repos.locations.create(&location("Другая")).expect("create");
    let doomed_plan = repos
        .membership_plans
        .create(&plan(cat.location.id, "Базовый", 400_000))
        .expect("plan");
    let kept_plan = repos
        .membership_plans
        .create(&plan(other.id, "Базовый", 400_000))
        .expect("plan");
    let doomed_session = repos
        .class_sessions
        .create(&cat.session(common::base()))
        .expect("session");
    assert!(repos.locations.delete(cat.location.id).expect("delete"));
    assert_eq!(
        repos
            .membership_plans
            .get_by_id(doomed_plan.id)
            .expect("get"),
        None
    );
    assert_eq!(
        repos
            .class_sessions
            .get_by_id(doomed_session.id)
            .expect("get"),
        None
    );
    assert_eq!(
        repos.membership_plans.get_by_id(kept_plan.id).expect("get"),
        Some(kept_plan)
    );
    // The program type and trainer stay.
    assert!(
        repos
            .program_types
            .get_by_id(cat.program_type.id)
            .expect("get")
            .is_some()
    );
    assert!(
        repos
            .trainers
            .get_by_id(cat.trainer.id)
            .expect("get")
            .is_some()
    );
}

// ---------------------------------------------------------------- program types

fn program_type_crud_round_trip(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let new = program_type("Стретчинг");
    let created = repos.program_types.create(&new).expect("create");
    assert_eq!(
        (
            &created.name,
            &created.description,
            created.duration_minutes,
            created.level,
            created.is_active
        ),
        (&new.name, &new.description, 60, ProgramLevel::All, true)
    );
    assert_eq!(
        repos.program_types.get_by_id(created.id).expect("get"),
        Some(created.clone())
    );

    let replacement = cohai_domain::NewProgramType {
        name: "Стретчинг PRO".into(),
        description: None,
        duration_minutes: 90,
        level: ProgramLevel::Advanced,
        is_active: false,
    };
    let updated = repos
        .program_types
        .update(created.id, &replacement)
        .expect("update")
        .expect("exists");
    assert_eq!(updated.id, created.id);
    assert_eq!(
        (
            updated.name.as_str(),
            updated.description.as_deref(),
            updated.duration_minutes,
            updated.level,
            updated.is_active
        ),
        ("Стретчинг PRO", None, 90, ProgramLevel::Advanced, false)
    );
    assert_eq!(
        repos.program_types.get_by_id(created.id).expect("get"),
        Some(updated)
    );
    assert_eq!(
        repos
            .program_types
            .update(created.id + 1, &replacement)
            .expect("update unknown"),
        None
    );

    assert!(repos.program_types.delete(created.id).expect("delete"));
    assert_eq!(
        repos.program_types.get_by_id(created.id).expect("get"),
        None
    );
    assert!(
        !repos
            .program_types
            .delete(created.id)
            .expect("delete again")
    );
}

fn program_type_every_level_round_trips(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for level in ProgramLevel::ALL {
        let created = repos
            .program_types
            .create(&cohai_domain::NewProgramType {
                level: *level,
                ..program_type(level.as_str())
            })
            .expect("create");
        let got = repos
            .program_types
            .get_by_id(created.id)
            .expect("get")
            .expect("exists");
        assert_eq!(got.level, *level);
    }
}

fn program_type_list_active_orders_by_code_point_and_hides_inactive(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for name in MIXED_NAMES {
        repos
            .program_types
            .create(&program_type(name))
            .expect("create");
    }
    repos
        .program_types
        .create(&cohai_domain::NewProgramType {
            is_active: false,
            ..program_type("Архив")
        })
        .expect("create inactive");
    let names: Vec<String> = repos
        .program_types
        .list_active()
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, code_point_sorted(&MIXED_NAMES));
}

fn program_type_find_by_name_matches_the_exact_name_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = repos
        .program_types
        .create(&program_type("Шпагат"))
        .expect("create");
    assert_eq!(
        repos.program_types.find_by_name("Шпагат").expect("find"),
        Some(created)
    );
    for miss in ["шпагат", "Шпага", "%"] {
        assert_eq!(
            repos.program_types.find_by_name(miss).expect("find"),
            None,
            "{miss:?}"
        );
    }
}

// ---------------------------------------------------------------- trainers

fn trainer_crud_round_trip(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let new = trainer("Анна Иванова");
    let created = repos.trainers.create(&new).expect("create");
    assert_eq!(
        (
            &created.full_name,
            &created.bio,
            &created.photo_url,
            created.is_active
        ),
        (&new.full_name, &new.bio, &new.photo_url, true)
    );
    assert_eq!(
        repos.trainers.get_by_id(created.id).expect("get"),
        Some(created.clone())
    );

    let replacement = cohai_domain::NewTrainer {
        full_name: "Анна Петрова".into(),
        bio: None,
        photo_url: None,
        is_active: false,
    };
    let updated = repos
        .trainers
        .update(created.id, &replacement)
        .expect("update")
        .expect("exists");
    assert_eq!(
        (
            updated.id,
            updated.full_name.as_str(),
            updated.bio.as_deref(),
            updated.photo_url.as_deref(),
            updated.is_active
        ),
        (created.id, "Анна Петрова", None, None, false)
    );
    assert_eq!(
        repos.trainers.get_by_id(created.id).expect("get"),
        Some(updated)
    );
    assert_eq!(
        repos
            .trainers
            .update(created.id + 1, &replacement)
            .expect("update unknown"),
        None
    );
    assert!(repos.trainers.delete(created.id).expect("delete"));
    assert_eq!(repos.trainers.get_by_id(created.id).expect("get"), None);
    assert!(!repos.trainers.delete(created.id).expect("delete again"));
}

fn trainer_list_active_orders_by_code_point_and_hides_inactive(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for name in MIXED_NAMES {
        repos.trainers.create(&trainer(name)).expect("create");
    }
    repos
        .trainers
        .create(&cohai_domain::NewTrainer {
            is_active: false,
            ..trainer("Уволен")
        })
        .expect("create inactive");
    let names: Vec<String> = repos
        .trainers
        .list_active()
        .expect("list")
        .into_iter()
        .map(|p| p.full_name)
        .collect();
    assert_eq!(names, code_point_sorted(&MIXED_NAMES));
}

fn trainer_find_by_name_matches_the_exact_full_name_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = repos
        .trainers
        .create(&trainer("Мария Соколова"))
        .expect("create");
    assert_eq!(
        repos.trainers.find_by_name("Мария Соколова").expect("find"),
        Some(created)
    );
    for miss in ["мария соколова", "Мария", "Мария_Соколова", "%"] {
        assert_eq!(
            repos.trainers.find_by_name(miss).expect("find"),
            None,
            "{miss:?}"
        );
    }
}

fn trainer_list_active_by_location_lists_active_trainers_teaching_there_once_by_name(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let here = catalog(&repos, "A");
    let there = repos.locations.create(&location("Другая")).expect("create");
    let mk = |name: &str, active: bool| {
        repos
            .trainers
            .create(&cohai_domain::NewTrainer {
                is_active: active,
                ..trainer(name)
            })
            .expect("trainer")
    };
    let zeta = mk("Zeta", true);
    let alpha = mk("alpha", true);
    let yo = mk("Ёлка", true);
    let inactive = mk("Неактивный", false);
    let elsewhere = mk("Только там", true);
    let _idle = mk("Без занятий", true);
    let mut n = 0;
    let mut teach = |trainer_id: i64, location_id: i64| {
        n += 1;
        repos
            .class_sessions
            .create(&cohai_domain::NewClassSession {
                trainer_id,
                location_id,
                ..here.session(common::at_min(n * 90))
            })
            .expect("session")
    };
    // Two sessions for Ёлка: listed once. A cancelled session still counts.
    teach(yo.id, here.location.id);
    teach(yo.id, here.location.id);
    let cancelled = teach(zeta.id, here.location.id);
    repos
        .class_sessions
        .set_status(cancelled.id, cohai_domain::SessionStatus::Cancelled)
        .expect("cancel")
        .expect("exists");
    teach(alpha.id, here.location.id);
    teach(inactive.id, here.location.id);
    teach(elsewhere.id, there.id);
    let listed = repos
        .trainers
        .list_active_by_location(here.location.id)
        .expect("list");
    assert_eq!(listed, vec![zeta, alpha, yo]);
    assert_eq!(
        repos
            .trainers
            .list_active_by_location(there.id)
            .expect("list"),
        vec![elsewhere]
    );
    assert!(
        repos
            .trainers
            .list_active_by_location(9_999)
            .expect("list")
            .is_empty()
    );
}

fn trainer_with_sessions_cannot_be_deleted(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    repos
        .class_sessions
        .create(&cat.session(common::base()))
        .expect("session");
    assert!(repos.trainers.delete(cat.trainer.id).is_err());
    assert!(repos.program_types.delete(cat.program_type.id).is_err());
    assert_eq!(
        repos.trainers.get_by_id(cat.trainer.id).expect("get"),
        Some(cat.trainer)
    );
}

// ---------------------------------------------------------------- membership plans

fn plan_crud_round_trip_keeps_price_currency_and_unlimited_visits(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = repos.locations.create(&location("Центр")).expect("loc");
    let other = repos.locations.create(&location("Север")).expect("loc");
    let new = plan(loc.id, "Безлимит", 1_250_050);
    let created = repos.membership_plans.create(&new).expect("create");
    assert_eq!(
        (
            created.location_id,
            created.name.as_str(),
            created.description.as_deref(),
            created.price_minor,
            created.currency.as_str(),
            created.visits,
            created.validity_days,
            created.is_active
        ),
        (
            loc.id,
            "Безлимит",
            Some("8 занятий"),
            1_250_050,
            "RUB",
            Some(8),
            30,
            true
        )
    );
    assert_eq!(
        repos.membership_plans.get_by_id(created.id).expect("get"),
        Some(created.clone())
    );

    let replacement = cohai_domain::NewMembershipPlan {
        location_id: other.id,
        name: "Безлимит+".into(),
        description: None,
        price: cohai_domain::Money::new(9_900, "EUR").expect("money"),
        visits: None,
        validity_days: 365,
        is_active: false,
    };
    let updated = repos
        .membership_plans
        .update(created.id, &replacement)
        .expect("update")
        .expect("exists");
    assert_eq!(
        (
            updated.id,
            updated.location_id,
            updated.name.as_str(),
            updated.description.as_deref(),
            updated.price_minor,
            updated.currency.as_str(),
            updated.visits,
            updated.validity_days,
            updated.is_active
        ),
        (
            created.id,
            other.id,
            "Безлимит+",
            None,
            9_900,
            "EUR",
            None,
            365,
            false
        )
    );
    assert_eq!(
        repos.membership_plans.get_by_id(created.id).expect("get"),
        Some(updated)
    );
    assert_eq!(
        repos
            .membership_plans
            .update(created.id + 1, &replacement)
            .expect("update unknown"),
        None
    );
    assert!(repos.membership_plans.delete(created.id).expect("delete"));
    assert_eq!(
        repos.membership_plans.get_by_id(created.id).expect("get"),
        None
    );
    assert!(
        !repos
            .membership_plans
            .delete(created.id)
            .expect("delete again")
    );
}

fn plan_price_can_be_zero_and_very_large(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = repos.locations.create(&location("Центр")).expect("loc");
    for (name, price) in [("Бесплатно", 0), ("Дорого", i64::MAX)] {
        let created = repos
            .membership_plans
            .create(&plan(loc.id, name, price))
            .expect("create");
        assert_eq!(created.price_minor, price);
    }
}

fn plan_list_active_orders_by_price_then_id_across_locations(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = repos.locations.create(&location("A")).expect("loc");
    let b = repos.locations.create(&location("B")).expect("loc");
    let mk = |loc: i64, name: &str, price: i64, active: bool| {
        repos
            .membership_plans
            .create(&cohai_domain::NewMembershipPlan {
                is_active: active,
                ..plan(loc, name, price)
            })
            .expect("plan")
    };
    let p1 = mk(a.id, "Дорогой", 900_000, true);
    let p2 = mk(b.id, "Средний-1", 500_000, true);
    let p3 = mk(a.id, "Средний-2", 500_000, true);
    let _hidden = mk(a.id, "Скрытый", 1, false);
    let p4 = mk(b.id, "Дешёвый", 100, true);
    let listed = repos.membership_plans.list_active().expect("list");
    assert_eq!(listed, vec![p4, p2, p3, p1]);
}

fn plan_list_by_location_returns_only_that_locations_active_plans_by_price_then_id(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = repos.locations.create(&location("A")).expect("loc");
    let b = repos.locations.create(&location("B")).expect("loc");
    let mk = |loc: i64, name: &str, price: i64, active: bool| {
        repos
            .membership_plans
            .create(&cohai_domain::NewMembershipPlan {
                is_active: active,
                ..plan(loc, name, price)
            })
            .expect("plan")
    };
    let a_exp = mk(a.id, "Дорогой", 700_000, true);
    let a_tie1 = mk(a.id, "Равный-1", 300_000, true);
    let _a_hidden = mk(a.id, "Скрытый", 100, false);
    let a_tie2 = mk(a.id, "Равный-2", 300_000, true);
    let b_only = mk(b.id, "Чужой", 1, true);
    assert_eq!(
        repos.membership_plans.list_by_location(a.id).expect("list"),
        vec![a_tie1, a_tie2, a_exp]
    );
    assert_eq!(
        repos.membership_plans.list_by_location(b.id).expect("list"),
        vec![b_only]
    );
    assert!(
        repos
            .membership_plans
            .list_by_location(9_999)
            .expect("list")
            .is_empty()
    );
}

fn plan_find_by_name_is_scoped_to_the_location(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = repos.locations.create(&location("A")).expect("loc");
    let b = repos.locations.create(&location("B")).expect("loc");
    let in_a = repos
        .membership_plans
        .create(&plan(a.id, "Утренний", 300_000))
        .expect("plan");
    let in_b = repos
        .membership_plans
        .create(&cohai_domain::NewMembershipPlan {
            price: rub(350_000),
            is_active: false,
            ..plan(b.id, "Утренний", 0)
        })
        .expect("plan");
    assert_eq!(
        repos
            .membership_plans
            .find_by_name(a.id, "Утренний")
            .expect("find"),
        Some(in_a)
    );
    assert_eq!(
        repos
            .membership_plans
            .find_by_name(b.id, "Утренний")
            .expect("find"),
        Some(in_b),
        "inactive plans are found by name too"
    );
    assert_eq!(
        repos
            .membership_plans
            .find_by_name(a.id, "утренний")
            .expect("find"),
        None
    );
    assert_eq!(
        repos
            .membership_plans
            .find_by_name(9_999, "Утренний")
            .expect("find"),
        None
    );
}

fn plan_delete_detaches_its_sessions(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let p = repos
        .membership_plans
        .create(&plan(cat.location.id, "Базовый", 100))
        .expect("plan");
    let s = repos
        .class_sessions
        .create(&cohai_domain::NewClassSession {
            membership_plan_id: Some(p.id),
            ..cat.session(common::base())
        })
        .expect("session");
    assert_eq!(s.membership_plan_id, Some(p.id));
    assert!(repos.membership_plans.delete(p.id).expect("delete"));
    let s = repos
        .class_sessions
        .get_by_id(s.id)
        .expect("get")
        .expect("session stays");
    assert_eq!(s.membership_plan_id, None);
}

backend_tests!(
    location_create_returns_the_stored_row_with_a_new_id,
    location_get_by_id_returns_active_and_inactive_rows_and_none_for_unknown_id,
    location_update_replaces_every_field_and_null_clears_the_phone,
    location_update_of_unknown_id_returns_none_and_changes_nothing,
    location_delete_removes_the_row_and_reports_false_the_second_time,
    location_list_active_orders_by_code_point_and_hides_inactive,
    location_list_active_is_empty_without_rows,
    location_find_by_name_matches_the_exact_name_only,
    location_delete_cascades_to_its_plans_and_sessions,
    program_type_crud_round_trip,
    program_type_every_level_round_trips,
    program_type_list_active_orders_by_code_point_and_hides_inactive,
    program_type_find_by_name_matches_the_exact_name_only,
    trainer_crud_round_trip,
    trainer_list_active_orders_by_code_point_and_hides_inactive,
    trainer_find_by_name_matches_the_exact_full_name_only,
    trainer_list_active_by_location_lists_active_trainers_teaching_there_once_by_name,
    trainer_with_sessions_cannot_be_deleted,
    plan_crud_round_trip_keeps_price_currency_and_unlimited_visits,
    plan_price_can_be_zero_and_very_large,
    plan_list_active_orders_by_price_then_id_across_locations,
    plan_list_by_location_returns_only_that_locations_active_plans_by_price_then_id,
    plan_find_by_name_is_scoped_to_the_location,
    plan_delete_detaches_its_sessions,
);
