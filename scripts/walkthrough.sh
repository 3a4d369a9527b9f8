#!/usr/bin/env bash
# A new studio from nothing: catalog, timetable, generated classes, a cancellation, the audit.
set -euo pipefail
API=${API:-http://localhost:8080}; KEY=${KEY:-change-me}
admin() { curl -sf -X "$1" "$API$2" -H "authorization: Bearer $KEY" -H 'content-type: application/json' ${3:+-d "$3"}; }
LOC=$(admin POST /api/v1/admin/locations \
  '{"name":"Cohai Север","address":"ул. Тверская, 10","city":"Москва","timezone":"Europe/Moscow","phone":"+7 495 123-45-67"}' | jq .id)
PROG=$(admin POST /api/v1/admin/program-types \
  '{"name":"Стретчинг для начинающих","duration_minutes":60,"level":"beginner"}' | jq .id)
TRAINER=$(admin POST /api/v1/admin/trainers '{"full_name":"Мария Соколова"}' | jq .id)
admin POST /api/v1/admin/memberships \
  "{\"location_id\":$LOC,\"name\":\"8 занятий\",\"price_minor\":640000,\"currency\":\"RUB\",\"visits\":8,\"validity_days\":30}" | jq -c '{id,name}'
FROM=$(date -u +%F); TO=$(date -u -d '+13 days' +%F)
admin POST /api/v1/admin/timetable-slots \
  "{\"location_id\":$LOC,\"program_type_id\":$PROG,\"trainer_id\":$TRAINER,\"weekday\":$(date -u -d '+1 day' +%u),\"start_time\":\"19:00\",\"capacity\":12,\"valid_from\":\"$FROM\"}" | jq -c '{id,weekday,start_time}'
admin POST /api/v1/admin/timetable/generate "{\"from\":\"$FROM\",\"to\":\"$TO\",\"location_id\":$LOC}"; echo
curl -sf "$API/api/v1/schedule?location_id=$LOC" | jq -c '.items[] | {id,starts_at,status}'
SESSION=$(curl -sf "$API/api/v1/schedule?location_id=$LOC" | jq '.items[0].id')
admin PATCH "/api/v1/admin/class-sessions/$SESSION" '{"status":"cancelled","cancellation_reason":"Тренер заболела"}' | jq -c '{id,status,cancellation_reason}'
curl -sf "$API/api/v1/schedule.ics?location_id=$LOC" | grep -E '^(UID|STATUS|DTSTART|SEQUENCE)' | head -8
admin GET "/api/v1/admin/audit?limit=20" | jq -c '.items[] | {entity,entity_id,action,actor}'
