//! The admin API's program types: `/api/v1/admin/program-types` and `/api/v1/admin/program-types/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = ProgramType,
    input = ProgramTypeInput,
    create_body = NewProgramTypeInput,
    service = program_types,
    view = AdminProgramType,
    list_type = AdminProgramTypeList,
    noun = "program type",
    create_invalid = ": a name with no visible character (the pattern asks for a non-space one; the server also refuses format characters, combining marks and unassigned code points alone)",
    path = "/api/v1/admin/program-types",
    item_path = "/api/v1/admin/program-types/{id}",
    ids = ("listAdminProgramTypes", "getAdminProgramType", "createProgramType", "updateProgramType", "deleteProgramType"),
}
