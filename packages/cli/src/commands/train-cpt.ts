/**
 * `ortrl train cpt --model DIR --data FILE [--eval-data FILE] --output-dir DIR [...training flags]`:
 * continued pretraining on raw text (`.txt` or JSONL `{"text"}`), all parameters trained.
 */
import { cptPlugin } from "@ortrl/cpt";
import { trainCommand } from "./train-common.js";

export const trainCptCommand = () =>
  trainCommand({ plugin: cptPlugin, lora: false, description: "continued pretraining (all parameters) on raw text (.txt, or JSONL {text})" });
