DROP INDEX deliveries_leased_idx;
