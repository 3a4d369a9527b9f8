//! The audit log: every catalog write records its entry in the same transaction, so a
//! change and its entry are stored together or not at all.

use cohai_domain::{AuditAction, AuditEntity, AuditFilter, NewLocation, RepoError};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{at, location, plan, program_type, session, trainer};
use cohai_persistence::testing::{Backend, TestDatabase, count};

const AUDIT_ROWS: &str = "SELECT COUNT(*) AS n FROM audit_log";
const LOCATIONS: &str = "SELECT COUNT(*) AS n FROM locations";

fn all(entity: Option<AuditEntity>) -> AuditFilter {
    AuditFilter {
        entity,
        entity_id: None,
        actor: None,
        limit: 200,
        offset: 0,
    }
}

fn each_write_records_one_entry_with_the_changed_fields(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let now = at("2026-12-01T10:00:00Z");
    let created = repos
        .locations
        .create_audited(&location("Центр"), "anna", now)
        .expect("create");
    assert_eq!(created.version, 1);
    let renamed = NewLocation {
        name: "Север".into(),
        ..location("Центр")
    };
    let updated = repos
        .locations
        .update_audited(created.id, &renamed, Some(1), "boris", now)
        .expect("update")
        .expect("exists");
    assert_eq!(updated.version, 2);
    assert!(
        repos
            .locations
            .delete_audited(created.id, Some(2), "anna", now)
            .expect("delete")
    );
    let page = repos
        .audit
        .search(&all(Some(AuditEntity::Location)))
        .expect("search");
    assert_eq!(page.total, 3);
    let actions: Vec<_> = page.items.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Deleted,
            AuditAction::Updated,
            AuditAction::Created
        ],
        "newest first"
    );
    let [deleted, changed, made] = &page.items[..] else {
        panic!("three entries")
    };
    assert_eq!(made.actor, "anna");
    assert_eq!(made.entity_id, Some(created.id));
    assert_eq!(
        made.changes["name"],
        serde_json::json!({"from": null, "to": "Центр"})
    );
    assert_eq!(
        made.changes["active"],
        serde_json::json!({"from": null, "to": true})
    );
    assert_eq!(made.changes.as_object().map(|o| o.len()), Some(6));
    assert_eq!(
        changed.changes,
        serde_json::json!({"name": {"from": "Центр", "to": "Север"}}),
        "only the changed field"
    );
    assert_eq!(changed.actor, "boris");
    assert_eq!(
        deleted.changes["name"],
        serde_json::json!({"from": "Север", "to": null})
    );
    assert_eq!(deleted.created_at, now);
}

fn a_refused_change_leaves_neither_the_change_nor_an_entry(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let now = at("2026-12-01T10:00:00Z");
    let first = repos
        .locations
        .create_audited(&location("Центр"), "anna", now)
        .expect("create");
    let (rows, entries) = (count(&t.db, LOCATIONS), count(&t.db, AUDIT_ROWS));
    // A duplicate name: the insert fails, so no entry either.
    assert!(matches!(
        repos
            .locations
            .create_audited(&location("Центр"), "anna", now),
        Err(RepoError::Conflict(_))
    ));
    // The change succeeds but its entry cannot be written (an empty actor breaks a CHECK):
    // the change is rolled back with it.
    assert!(
        repos
            .locations
            .create_audited(&location("Юг"), "", now)
            .is_err()
    );
    let renamed = NewLocation {
        name: "Север".into(),
        ..location("Центр")
    };
    assert!(
        repos
            .locations
            .update_audited(first.id, &renamed, None, "", now)
            .is_err()
    );
    // A stale version.
    assert_eq!(
        repos
            .locations
            .update_audited(first.id, &renamed, Some(7), "anna", now),
        Err(RepoError::Stale)
    );
    assert_eq!(
        (count(&t.db, LOCATIONS), count(&t.db, AUDIT_ROWS)),
        (rows, entries)
    );
    let stored = repos
        .locations
        .get_by_id(first.id)
        .expect("get")
        .expect("kept");
    assert_eq!((stored.name.as_str(), stored.version), ("Центр", 1));
}

fn a_referenced_row_is_not_deleted_and_nothing_is_recorded(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let now = at("2026-12-01T10:00:00Z");
    let studio = repos
        .locations
        .create(&location("Центр"))
        .expect("location");
    let program = repos
        .program_types
        .create(&program_type("Йога"))
        .expect("program");
    let coach = repos.trainers.create(&trainer("Анна")).expect("trainer");
    let offer = repos
        .membership_plans
        .create(&plan(studio.id, "Разовое", 90_000))
        .expect("plan");
    repos
        .class_sessions
        .create(&cohai_domain::NewClassSession {
            membership_plan_id: Some(offer.id),
            ..session(studio.id, program.id, coach.id, at("2026-12-02T10:00:00Z"))
        })
        .expect("session");
    let entries = count(&t.db, AUDIT_ROWS);
    let conflict = |r: Result<bool, RepoError>| matches!(r, Err(RepoError::Conflict(_)));
    assert!(conflict(
        repos.locations.delete_audited(studio.id, None, "a", now)
    ));
    assert!(conflict(
        repos
            .program_types
            .delete_audited(program.id, None, "a", now)
    ));
    assert!(conflict(
        repos.trainers.delete_audited(coach.id, None, "a", now)
    ));
    assert!(conflict(
        repos
            .membership_plans
            .delete_audited(offer.id, None, "a", now)
    ));
    assert_eq!(count(&t.db, AUDIT_ROWS), entries);
    assert_eq!(
        repos.locations.delete_audited(9_999, None, "a", now),
        Ok(false),
        "missing is not an error"
    );
    // The system's own writes (seed, tools) are audited too.
    let system = repos
        .audit
        .search(&AuditFilter {
            actor: Some("system".into()),
            ..all(None)
        })
        .expect("search");
    assert_eq!(system.total, 4);
    assert_eq!(
        repos
            .audit
            .search(&AuditFilter {
                actor: Some("nobody".into()),
                ..all(None)
            })
            .expect("search")
            .total,
        0
    );
}

/// On PostgreSQL, an update that read the row before a concurrent writer committed must not
/// overwrite that writer's change (a lost update): it is refused as stale. (On SQLite the
/// single writer cannot interleave like this.)
fn an_update_racing_a_committed_change_is_stale_not_a_lost_update(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let now = at("2026-12-01T10:00:00Z");
    let created = repos
        .locations
        .create_audited(&location("Центр"), "anna", now)
        .expect("create");
    // Another writer changes the row and holds its transaction open.
    let mut other = t.db.pool().get().expect("a second connection");
    diesel::connection::SimpleConnection::batch_execute(
        &mut **other,
        &format!(
            "BEGIN; UPDATE locations SET city = 'Тверь', version = version + 1 WHERE id = {}",
            created.id
        ),
    )
    .expect("an uncommitted change");
    let renamed = NewLocation {
        name: "Север".into(),
        ..location("Центр")
    };
    let result = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            repos
                .locations
                .update_audited(created.id, &renamed, Some(1), "boris", now)
        });
        // Long enough for the writer to read version 1 and wait on the row lock.
        std::thread::sleep(std::time::Duration::from_millis(500));
        diesel::connection::SimpleConnection::batch_execute(&mut **other, "COMMIT")
            .expect("commit");
        writer.join().expect("writer thread")
    });
    assert!(matches!(result, Err(RepoError::Stale)), "{result:?}");
    let stored = repos
        .locations
        .get_by_id(created.id)
        .expect("get")
        .expect("exists");
    assert_eq!(stored.city, "Тверь", "the committed change stands");
    assert_eq!(stored.name, "Центр");
}

backend_tests!(
    an_update_racing_a_committed_change_is_stale_not_a_lost_update,
    each_write_records_one_entry_with_the_changed_fields,
    a_refused_change_leaves_neither_the_change_nor_an_entry,
    a_referenced_row_is_not_deleted_and_nothing_is_recorded,
);
