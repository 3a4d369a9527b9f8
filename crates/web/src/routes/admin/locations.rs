//! The admin API's locations: `/api/v1/admin/locations` and `/api/v1/admin/locations/{id}` (`GET`, `POST`, `PATCH`,
//! `DELETE`). The handlers' bodies are shared by the catalog resources
//! ([`crate::routes::admin::catalog`]); the rules are in `cohai_services::catalog_admin`.

crate::routes::admin::catalog::admin_catalog_resource! {
    entity = Location,
    input = LocationInput,
    create_body = NewLocationInput,
    service = locations,
    view = AdminLocation,
    list_type = AdminLocationList,
    noun = "location",
    create_invalid = ": a `timezone` the IANA time-zone database does not know, or a `phone` that is not a real number (neither can a pattern state), or a name, address or city with no visible character",
    path = "/api/v1/admin/locations",
    item_path = "/api/v1/admin/locations/{id}",
    ids = ("listAdminLocations", "getAdminLocation", "createLocation", "updateLocation", "deleteLocation"),
}
