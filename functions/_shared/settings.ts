/**
 * Settings more than one service reads.
 * @module
 */
import { serviceUrlSetting } from "../../runtime/mod.ts";

/** `APP3_URL`: where app3 is (this host's app3, else `http://localhost:8003`). */
export const app3Url = serviceUrlSetting("APP3_URL", "app3");
