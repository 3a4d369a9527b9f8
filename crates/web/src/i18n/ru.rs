//! The Russian catalogue. Field and parameter messages are shown under a form field, so they
//! read as a note on it («обязательное поле», «некорректный номер телефона»). Wire values
//! (field and parameter names, enum values, `true`, header names) stay as they are sent.
//! `{n:форма,формы,форм}` writes the number and then the noun in the form it needs.

use super::Key;

/// The Russian template of `key`.
pub(super) fn text(key: Key) -> &'static str {
    match key {
        Key::Unauthorized => "нужен действующий ключ API администратора",
        Key::RequestTimeout => "тело запроса не пришло вовремя",
        Key::IdempotencyInProgress => {
            "запрос с этим Idempotency-Key ещё выполняется; повторите позже"
        }
        Key::IdempotencyReused => "этот Idempotency-Key уже использован для запроса с другим телом",
        Key::PreconditionFailed => "ресурс изменился; запросите его заново",
        Key::BodyLargerThan => "тело запроса больше {limit:байта,байт,байт}",
        Key::SomeFieldsInvalid => "некоторые поля заполнены неверно",
        Key::RateLimited => "слишком много запросов; повторите позже",
        Key::Internal => "внутренняя ошибка сервера",
        Key::Unavailable => "сервис временно недоступен; повторите позже",
        Key::RequestUnreadable => "не удалось прочитать запрос",
        Key::NoSuchResource => "такого ресурса нет",
        Key::RequestNotAllowed => "этот запрос не разрешён",
        Key::MethodNotAllowed => "этот метод не разрешён для этого пути",
        Key::RequestBodyTooLarge => "тело запроса слишком большое",
        Key::ContentTypeJson => "тип содержимого должен быть application/json",
        Key::RequestUnprocessable => "не удалось обработать запрос",
        Key::Conflict => "запрос противоречит текущему состоянию",
        Key::LocationNotFound => "локация {id} не найдена",
        Key::ProgramTypeNotFound => "тип программы {id} не найден",
        Key::TrainerNotFound => "тренер {id} не найден",
        Key::MembershipPlanNotFound => "абонемент {id} не найден",
        Key::ClassSessionNotFound => "занятие {id} не найдено",
        Key::LeadNotFound => "заявка {id} не найдена",
        Key::WebhookNotFound => "вебхук {id} не найден",
        Key::DeliveryNotFound => "доставка {id} не найдена",
        Key::TimetableSlotNotFound => "слот расписания {id} не найден",
        Key::TrainerOverlap => {
            "тренер {trainer} уже ведёт запланированное занятие {session} в пересекающееся время"
        }
        Key::SessionChosenByLead => "занятие {session} выбрано в заявке {lead}: отмените его",
        Key::WebhookInactive => {
            "вебхук {id} не активен: включите его, чтобы отправить доставку повторно"
        }
        Key::RoleLeadsOnly => "ключ {name} с ролью {role} может обращаться только к заявкам",
        Key::OriginNotAllowed => "этому источнику (origin) не разрешено обращаться к API",
        Key::CorsMethodNotAllowed => "этот метод не разрешён с другого источника (origin)",
        Key::CorsHeadersNotAllowed => {
            "эти заголовки запроса не разрешены с другого источника (origin)"
        }
        Key::CrossOriginNotAllowed => "этот запрос с другого источника (origin) не разрешён",
        Key::BodyUnreadable => "не удалось прочитать тело запроса",
        Key::BodyNotJson => "тело запроса — некорректный JSON",
        Key::BodyNotReadableAsJson => "тело запроса не удалось прочитать как JSON",
        Key::BodyNotObject => "тело запроса должно быть JSON-объектом",
        Key::BodyFieldNotAccepted => "в теле запроса есть поле, которое здесь не принимается",
        Key::UnknownField => "неизвестное поле {field}",
        Key::FieldMustBeInteger => "{field} должно быть целым числом",
        Key::FieldMustBeNonNegativeInteger => "{field} должно быть неотрицательным целым числом",
        Key::FieldMustBeNumber => "{field} должно быть числом",
        Key::FieldMustBeBoolean => "{field} должно быть true или false",
        Key::FieldMustBeString => "{field} должно быть строкой",
        Key::FieldMustBeArray => "{field} должно быть массивом",
        Key::FieldMustBeObject => "{field} должно быть объектом",
        Key::FieldOfAnotherType => "{field} имеет неверный тип",
        Key::AFieldMustBeInteger => "одно из полей должно быть целым числом",
        Key::AFieldMustBeNonNegativeInteger => {
            "одно из полей должно быть неотрицательным целым числом"
        }
        Key::AFieldMustBeNumber => "одно из полей должно быть числом",
        Key::AFieldMustBeBoolean => "одно из полей должно быть true или false",
        Key::AFieldMustBeString => "одно из полей должно быть строкой",
        Key::AFieldMustBeArray => "одно из полей должно быть массивом",
        Key::AFieldMustBeObject => "одно из полей должно быть объектом",
        Key::AFieldOfAnotherType => "одно из полей имеет неверный тип",
        Key::NotAllowedValue => "недопустимое значение",
        Key::OneOf => "должно быть одним из значений: {values}",
        Key::Required => "обязательное поле",
        Key::NoControlCharacters => "не должно содержать управляющих символов",
        Key::QueryMalformed => "строка запроса имеет неверный формат",
        Key::ParameterNamesNoControl => "имена параметров не должны содержать управляющих символов",
        Key::AtMostOnce => "можно указать не больше одного раза",
        Key::IntegerFromTo => "должно быть целым числом от {min} до {max}",
        Key::InstantOrDate => {
            "должно быть датой и временем RFC 3339 со смещением (Z или +03:00) или датой ГГГГ-ММ-ДД"
        }
        Key::PositiveId => "должно быть положительным целым идентификатором",
        Key::OneOrMoreOf => "должно быть одним или несколькими значениями из: {values}",
        Key::TrueOrFalse => "должно быть true или false",
        Key::ExportNotPaged => "выгрузка не делится на страницы: в ней все подходящие заявки",
        Key::ScheduledOrCancelled => "должно быть scheduled или cancelled",
        Key::IdempotencyKeyFormat => {
            "должно содержать от 1 до 255 видимых символов ASCII и быть указано один раз"
        }
        Key::IdempotencyKeyDomain => {
            "Idempotency-Key должен содержать от 1 до 255 видимых символов ASCII"
        }
        Key::OneToMaxCharacters => "должно содержать от 1 до {max:символа,символов,символов}",
        Key::AtMostCharacters => "должно содержать не больше {max:символа,символов,символов}",
        Key::InvalidEmail => "некорректный адрес электронной почты",
        Key::InvalidPhone => "некорректный номер телефона",
        Key::VisibleCharacter => "должно содержать хотя бы один видимый символ",
        Key::InstantInYears => {
            "должно быть датой и временем RFC 3339 со смещением (Z или +03:00) в пределах 0000–9999 годов"
        }
        Key::LocationDoesNotExist => "локация {id} не существует",
        Key::ProgramTypeDoesNotExist => "тип программы {id} не существует",
        Key::ClassSessionDoesNotExist => "занятие {id} не существует",
        Key::TrainerDoesNotExist => "тренер {id} не существует",
        Key::MembershipPlanDoesNotExist => "абонемент {id} не существует",
        Key::TheLocationDoesNotExist => "такой локации нет",
        Key::TheProgramTypeDoesNotExist => "такого типа программы нет",
        Key::TheClassSessionDoesNotExist => "такого занятия нет",
        Key::ConfiguredKey => "должно быть именем настроенного ключа администратора",
        Key::ConfiguredKeyOrNone => "должно быть именем настроенного ключа администратора или none",
        Key::AssigneeOwnLocations => "{name} может вести только заявки своих локаций",
        Key::NameOneOfYourLocations => "нужно указать одну из ваших локаций",
        Key::LocationNotYours => "локация {id} не входит в ваши локации",
        Key::MustBeTrue => "должно быть true",
        Key::BetweenOneAnd => "должно быть от 1 до {max}",
        Key::NotNegative => "не должно быть отрицательным",
        Key::NotNull => "не может быть null",
        Key::ToNotBeforeFrom => "`to` не должно быть раньше `from`",
        Key::RangeLongerThan => "диапазон длиннее {days:дня,дней,дней}",
        Key::ExpectedInstantOrDate => {
            "ожидается дата и время RFC 3339 со смещением или дата ГГГГ-ММ-ДД"
        }
        Key::ToIsBeforeFrom => "`to` раньше `from`",
        Key::MinToMax => "должно быть от {min} до {max}",
        Key::AtLeast => "должно быть не меньше {min}",
        Key::IanaTimeZone => "должно быть часовым поясом IANA, например Europe/Moscow",
        Key::AbsoluteHttpsUrl => "должно быть абсолютным URL с https",
        Key::NoCredentials => "не должно содержать учётных данных",
        Key::Iso4217 => "должно быть кодом ISO 4217: три заглавные латинские буквы",
        Key::CancelledNeedsReason => "для отменённого занятия нужна причина",
        Key::OnlyCancelledHasReason => "причина отмены бывает только у отменённого занятия",
        Key::AfterStartsAt => "должно быть позже starts_at",
        Key::YearsUtc => "должно быть в пределах 0000–9999 годов (UTC)",
        Key::InstantExample => {
            "должно быть датой и временем RFC 3339 со смещением, например 2026-12-01T16:00:00+03:00"
        }
        Key::NonNegativeInteger => "должно быть неотрицательным целым числом",
        Key::LocationInactive => "локация {id} неактивна",
        Key::ProgramTypeInactive => "тип программы {id} неактивен",
        Key::TrainerInactive => "тренер {id} неактивен",
        Key::MembershipPlanInactive => "абонемент {id} неактивен",
        Key::LocationNotActive => "локация {id} не активна",
        Key::ProgramTypeNotActive => "тип программы {id} не активен",
        Key::TrainerNotActive => "тренер {id} не активен",
        Key::MembershipPlanNotActive => "абонемент {id} не активен",
        Key::PlanOfOtherLocation => "абонемент {plan} относится к локации {other}, а не {location}",
        Key::DateFrom1900 => "должно быть датой ГГГГ-ММ-ДД от 1900-01-01 до 9998-12-31",
        Key::DateIn2000To2100 => "должно быть датой ГГГГ-ММ-ДД в 2000–2100 годах",
        Key::NotBeforeFrom => "не должно быть раньше `from`",
        Key::AtMostDaysAfterFrom => {
            "должно быть не позже чем через {days:день,дня,дней} после `from`"
        }
        Key::TimeOfDay => "должно быть временем ЧЧ:ММ от 00:00 до 23:59",
        Key::NotBeforeValidFrom => "не должно быть раньше valid_from",
        Key::AbsoluteUrl => "должно быть абсолютным URL",
        Key::HttpsUrl => "должно быть URL с https",
        Key::HasHost => "должно содержать имя хоста",
        Key::NoUserInfo => "не должно содержать имя пользователя или пароль",
        Key::NoFragment => "не должно содержать фрагмент (#…)",
        Key::NoPrivateAddress => "не должно указывать на частный, loopback- или link-local-адрес",
        Key::HostDoesNotResolve => "имя хоста не разрешается в адрес",
        Key::AtLeastOneEvent => "нужно указать хотя бы один тип события",
        Key::EachOneOf => "каждое значение должно быть одним из: {values}",
        Key::IntegerFromZero => "должно быть целым числом от 0",
        Key::RefusedByDatabase => "значения отклонены правилом базы данных",
        Key::InvalidValueCode => "недопустимое значение ({code})",
    }
}
