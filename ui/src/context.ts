// The context every view reads: the store's dispatch, and `run`, which calls
// the backend and turns a rejection into an error notice with its code.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { decodeError } from "./api";
import type { Action } from "./state";

export interface AppContextValue {
  dispatch: (action: Action) => void;
}

export const AppContext = createContext<AppContextValue>({
  dispatch: () => undefined,
});

export function useDispatch(): (action: Action) => void {
  return useContext(AppContext).dispatch;
}

/**
 * Returns a function that runs one backend call for `action` (a label such as
 * "attach"), shows its rejection as an error notice and resolves to
 * `undefined` then. A `cancelled` rejection is the user's own doing and is
 * shown as information, not as an error.
 */
export function useRunner(): <T>(action: string, work: () => Promise<T>) => Promise<T | undefined> {
  const dispatch = useDispatch();
  return async <T,>(action: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (raw) {
      const error = decodeError(raw);
      if (error.code === "cancelled") {
        dispatch({ type: "info", action, text: "cancelled" });
      } else {
        dispatch({ type: "error", action, error });
      }
      return undefined;
    }
  };
}
