//! Verifies that a database has every table and column the code maps, with the mapped type
//! (the plan's `check_sqlalchemy.py`).

use std::collections::HashMap;
use std::fmt;

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};

use crate::connection::{AnyConnection, with_backend};
use crate::schema::MAPPED_COLUMNS;

/// A column type as the Diesel schema maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integer.
    BigInt,
    /// 32-bit integer.
    Integer,
    /// Text.
    Text,
    /// Boolean.
    Bool,
    /// Timestamp without time zone (UTC by convention).
    Timestamp,
    /// Calendar date.
    Date,
}

impl ColumnType {
    /// Whether a declared database type stores this mapped type.
    fn accepts(self, declared: &str, postgres: bool) -> bool {
        let declared = declared.to_ascii_lowercase();
        if postgres {
            let expected = match self {
                Self::BigInt => "bigint",
                Self::Integer => "integer",
                Self::Text => "text",
                Self::Bool => "boolean",
                Self::Timestamp => "timestamp without time zone",
                Self::Date => "date",
            };
            return declared == expected;
        }
        // SQLite declared types, by its type-affinity rules.
        match self {
            Self::BigInt | Self::Integer => declared.contains("int"),
            Self::Text => {
                declared.contains("text") || declared.contains("char") || declared.contains("clob")
            }
            Self::Bool => declared == "boolean" || declared.contains("int"),
            Self::Timestamp => {
                declared == "timestamp" || declared == "datetime" || declared == "text"
            }
            Self::Date => declared == "date" || declared == "text",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One way in which the database differs from the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The table does not exist.
    MissingTable(String),
    /// The column does not exist.
    MissingColumn {
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// The column's declared type cannot hold the mapped type.
    WrongType {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// What the code maps.
        expected: ColumnType,
        /// What the database declares.
        found: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingTable(t) => write!(f, "table {t} is missing"),
            Self::MissingColumn { table, column } => {
                write!(f, "column {table}.{column} is missing")
            }
            Self::WrongType {
                table,
                column,
                expected,
                found,
            } => {
                write!(
                    f,
                    "column {table}.{column} is {found}, the code maps {expected}"
                )
            }
        }
    }
}

#[derive(QueryableByName)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

const POSTGRES_COLUMNS: &str = "SELECT table_name::text AS table_name, column_name::text AS column_name, \
     data_type::text AS data_type FROM information_schema.columns WHERE table_schema = current_schema()";

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'";

/// Compares the database with [`MAPPED_COLUMNS`]; an empty list means it matches.
pub fn check_schema(conn: &mut AnyConnection) -> Result<Vec<Mismatch>, diesel::result::Error> {
    let postgres = matches!(conn, AnyConnection::Postgresql(_));
    let sql = if postgres {
        POSTGRES_COLUMNS
    } else {
        SQLITE_COLUMNS
    };
    let found: Vec<ColumnInfo> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
    let mut tables: HashMap<&str, HashMap<&str, &str>> = HashMap::new();
    for col in &found {
        tables
            .entry(&col.table_name)
            .or_default()
            .insert(&col.column_name, &col.data_type);
    }
    let mut mismatches = Vec::new();
    let mut reported_tables = Vec::new();
    for &(table, column, expected) in MAPPED_COLUMNS {
        let Some(columns) = tables.get(table) else {
            if !reported_tables.contains(&table) {
                reported_tables.push(table);
                mismatches.push(Mismatch::MissingTable(table.to_owned()));
            }
            continue;
        };
        match columns.get(column) {
            None => mismatches.push(Mismatch::MissingColumn {
                table: table.to_owned(),
                column: column.to_owned(),
            }),
            Some(found) if !expected.accepts(found, postgres) => {
                mismatches.push(Mismatch::WrongType {
                    table: table.to_owned(),
                    column: column.to_owned(),
                    expected,
                    found: (*found).to_owned(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(mismatches)
}
