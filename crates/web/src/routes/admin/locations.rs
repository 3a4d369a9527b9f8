//! The admin API's locations: `/api/v1/admin/locations` and `/api/v1/admin/locations/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = Location,
    input = LocationInput,
    service = locations,
    view = AdminLocation,
    list_type = AdminLocationList,
    noun = "location",
    path = "/api/v1/admin/locations",
    item_path = "/api/v1/admin/locations/{id}",
    ids = ("listAdminLocations", "getAdminLocation", "createLocation", "updateLocation", "deleteLocation"),
}
