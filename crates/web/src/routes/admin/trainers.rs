//! The admin API's trainers: `/api/v1/admin/trainers` and `/api/v1/admin/trainers/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = Trainer,
    input = TrainerInput,
    create_body = NewTrainerInput,
    service = trainers,
    view = AdminTrainer,
    list_type = AdminTrainerList,
    noun = "trainer",
    create_invalid = ": a `full_name` with no visible character (the pattern asks for a non-space one; the server also refuses format characters, combining marks and unassigned code points alone), or a `photo_url` that is not an absolute https URL with a host (a blank one included) or carries credentials",
    path = "/api/v1/admin/trainers",
    item_path = "/api/v1/admin/trainers/{id}",
    ids = ("listAdminTrainers", "getAdminTrainer", "createTrainer", "updateTrainer", "deleteTrainer"),
}
