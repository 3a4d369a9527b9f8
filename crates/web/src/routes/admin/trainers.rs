//! The admin API's trainers: `/api/v1/admin/trainers` and `/api/v1/admin/trainers/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = Trainer,
    input = TrainerInput,
    service = trainers,
    view = AdminTrainer,
    list_type = AdminTrainerList,
    noun = "trainer",
    path = "/api/v1/admin/trainers",
    item_path = "/api/v1/admin/trainers/{id}",
    ids = ("listAdminTrainers", "getAdminTrainer", "createTrainer", "updateTrainer", "deleteTrainer"),
}
