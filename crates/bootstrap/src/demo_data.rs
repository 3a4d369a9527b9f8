//! The demo catalog that `seed` loads: three studios in two cities, six program types,
//! eight trainers and four membership plans per studio.
//!
//! Names are the natural keys: `seed` looks rows up by name and creates only what is missing.

use cohai_domain::ProgramLevel;

/// A studio of the demo chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoLocation {
    /// Display name (the natural key).
    pub name: &'static str,
    /// Street address.
    pub address: &'static str,
    /// City.
    pub city: &'static str,
    /// Contact phone (E.164).
    pub phone: &'static str,
    /// IANA time zone.
    pub timezone: &'static str,
    /// Membership prices as a percentage of [`DemoPlan::base_price_minor`].
    pub price_percent: i64,
    /// Indices into [`TRAINERS`] of the trainers who teach here.
    pub trainers: &'static [usize],
}

/// A program type of the demo catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoProgram {
    /// Display name (the natural key).
    pub name: &'static str,
    /// What the class is about.
    pub description: &'static str,
    /// Length of one class, minutes.
    pub duration_minutes: i32,
    /// Intended level.
    pub level: ProgramLevel,
}

/// A trainer of the demo catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoTrainer {
    /// Full name (the natural key).
    pub full_name: &'static str,
    /// Short biography.
    pub bio: &'static str,
}

/// A membership plan that every demo studio sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPlan {
    /// Display name (the natural key, per studio).
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Price in kopecks at a studio with `price_percent` 100.
    pub base_price_minor: i64,
    /// Number of visits; `None` is unlimited.
    pub visits: Option<i32>,
    /// Validity after purchase, days.
    pub validity_days: i32,
}

/// Currency of every demo price.
pub const CURRENCY: &str = "RUB";

/// The studios: two in Moscow, one in Yekaterinburg.
pub const LOCATIONS: &[DemoLocation] = &[
    DemoLocation {
        name: "Cohai Патриаршие",
        address: "ул. Малая Бронная, 28",
        city: "Москва",
        phone: "+74951500101",
        timezone: "Europe/Moscow",
        price_percent: 100,
        trainers: &[0, 1, 2],
    },
    DemoLocation {
        name: "Cohai Таганская",
        address: "ул. Таганская, 31/22",
        city: "Москва",
        phone: "+74951500202",
        timezone: "Europe/Moscow",
        price_percent: 90,
        trainers: &[3, 4, 5],
    },
    DemoLocation {
        name: "Cohai Екатеринбург",
        address: "ул. Вайнера, 15",
        city: "Екатеринбург",
        phone: "+73432100303",
        timezone: "Asia/Yekaterinburg",
        price_percent: 75,
        trainers: &[6, 7],
    },
];

/// The program types, covering every level.
pub const PROGRAMS: &[DemoProgram] = &[
    DemoProgram {
        name: "Растяжка для начинающих",
        description: "Мягкое знакомство со стретчингом: базовые упражнения, дыхание и техника безопасности.",
        duration_minutes: 60,
        level: ProgramLevel::Beginner,
    },
    DemoProgram {
        name: "Шпагат",
        description: "Системная подготовка к продольному и поперечному шпагату.",
        duration_minutes: 75,
        level: ProgramLevel::Intermediate,
    },
    DemoProgram {
        name: "Глубокая растяжка",
        description: "Интенсивная работа над подвижностью суставов для опытных учеников.",
        duration_minutes: 90,
        level: ProgramLevel::Advanced,
    },
    DemoProgram {
        name: "Здоровая спина",
        description: "Растяжка и укрепление мышц спины, работа над осанкой.",
        duration_minutes: 55,
        level: ProgramLevel::All,
    },
    DemoProgram {
        name: "Стретчинг в гамаках",
        description: "Растяжка с опорой на подвесные гамаки: разгрузка позвоночника и лёгкость в движениях.",
        duration_minutes: 60,
        level: ProgramLevel::Intermediate,
    },
    DemoProgram {
        name: "Миофасциальный релиз",
        description: "Расслабление мышц и фасций с роликами и мячами, восстановление после нагрузок.",
        duration_minutes: 60,
        level: ProgramLevel::All,
    },
];

/// The trainers.
pub const TRAINERS: &[DemoTrainer] = &[
    DemoTrainer {
        full_name: "Анна Смирнова",
        bio: "Мастер спорта по художественной гимнастике, преподаёт стретчинг восемь лет.",
    },
    DemoTrainer {
        full_name: "Екатерина Волкова",
        bio: "Инструктор по растяжке и пилатесу, специализируется на шпагатах.",
    },
    DemoTrainer {
        full_name: "Мария Кузнецова",
        bio: "Бывшая артистка балета, любит работать с новичками.",
    },
    DemoTrainer {
        full_name: "Ольга Морозова",
        bio: "Сертифицированный инструктор по стретчингу в гамаках.",
    },
    DemoTrainer {
        full_name: "Дарья Лебедева",
        bio: "Кандидат в мастера спорта по акробатике, ведёт продвинутые группы.",
    },
    DemoTrainer {
        full_name: "Илья Соколов",
        bio: "Специалист по мобильности и миофасциальному релизу, физиотерапевт по образованию.",
    },
    DemoTrainer {
        full_name: "Светлана Новикова",
        bio: "Тренер по функциональному тренингу, автор программы «Здоровая спина».",
    },
    DemoTrainer {
        full_name: "Алексей Павлов",
        bio: "Мастер спорта по спортивной гимнастике, помогает сесть на шпагат без травм.",
    },
];

/// The membership plans every studio sells (prices scaled by the studio's `price_percent`).
pub const PLANS: &[DemoPlan] = &[
    DemoPlan {
        name: "Пробное занятие",
        description: "Первое занятие для новых учеников.",
        base_price_minor: 70_000,
        visits: Some(1),
        validity_days: 30,
    },
    DemoPlan {
        name: "Абонемент на 8 занятий",
        description: "Два занятия в неделю в течение месяца.",
        base_price_minor: 480_000,
        visits: Some(8),
        validity_days: 30,
    },
    DemoPlan {
        name: "Абонемент на 12 занятий",
        description: "Три занятия в неделю, полтора месяца на использование.",
        base_price_minor: 660_000,
        visits: Some(12),
        validity_days: 45,
    },
    DemoPlan {
        name: "Безлимит на 3 месяца",
        description: "Любые занятия в студии без ограничений.",
        base_price_minor: 2_100_000,
        visits: None,
        validity_days: 90,
    },
];

/// A plan's price at a studio: the base price scaled by `percent`, rounded to whole
/// hundreds of roubles (10 000 kopecks).
///
/// ```
/// use cohai_bootstrap::demo_data::scaled_price;
/// assert_eq!(scaled_price(480_000, 100), 480_000);
/// assert_eq!(scaled_price(480_000, 75), 360_000);
/// assert_eq!(scaled_price(70_000, 75), 50_000); // 525 ₽ → 500 ₽
/// ```
pub fn scaled_price(base_minor: i64, percent: i64) -> i64 {
    const STEP: i64 = 10_000;
    (base_minor * percent / 100 + STEP / 2) / STEP * STEP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_promised_shape() {
        assert_eq!(LOCATIONS.len(), 3);
        let cities: std::collections::BTreeSet<_> = LOCATIONS.iter().map(|l| l.city).collect();
        assert_eq!(cities.len(), 2);
        assert_eq!(PROGRAMS.len(), 6);
        assert!(
            ProgramLevel::ALL
                .iter()
                .all(|level| PROGRAMS.iter().any(|p| p.level == *level))
        );
        assert!(
            PROGRAMS
                .iter()
                .all(|p| (55..=90).contains(&p.duration_minutes))
        );
        assert_eq!(TRAINERS.len(), 8);
        assert_eq!(PLANS.len(), 4);
        assert!(PLANS.iter().all(|p| (30..=90).contains(&p.validity_days)));
        assert_eq!(
            PLANS.iter().map(|p| p.visits).collect::<Vec<_>>(),
            [Some(1), Some(8), Some(12), None]
        );
    }

    #[test]
    fn every_trainer_teaches_in_exactly_one_studio() {
        let mut assigned: Vec<usize> = LOCATIONS.iter().flat_map(|l| l.trainers).copied().collect();
        assigned.sort_unstable();
        assert_eq!(assigned, (0..TRAINERS.len()).collect::<Vec<_>>());
    }

    #[test]
    fn names_are_unique_natural_keys() {
        fn unique(names: &[&str]) -> bool {
            let set: std::collections::BTreeSet<_> = names.iter().collect();
            set.len() == names.len()
        }
        assert!(unique(
            &LOCATIONS.iter().map(|l| l.name).collect::<Vec<_>>()
        ));
        assert!(unique(&PROGRAMS.iter().map(|p| p.name).collect::<Vec<_>>()));
        assert!(unique(
            &TRAINERS.iter().map(|t| t.full_name).collect::<Vec<_>>()
        ));
        assert!(unique(&PLANS.iter().map(|p| p.name).collect::<Vec<_>>()));
    }

    #[test]
    fn time_zones_and_phones_are_valid() {
        for location in LOCATIONS {
            assert!(
                location.timezone.parse::<chrono_tz::Tz>().is_ok(),
                "{}",
                location.timezone
            );
            assert_eq!(
                cohai_domain::Phone::parse(location.phone).map(cohai_domain::Phone::into_string),
                Ok(location.phone.to_owned())
            );
        }
    }
}
