import { useEffect, useRef } from 'preact/hooks';
import { hasNavigated } from './router.js';

/** A ref whose element takes the keyboard focus when it appears (autofocus is honoured only once per page load). */
export function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return ref;
}

/**
 * The page's heading (give it `tabIndex={-1}`): after a change of page inside the app it takes the
 * focus, so a screen reader announces the new page and Tab continues from its top, as after a load.
 */
export function usePageHeading() {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (hasNavigated()) ref.current?.focus();
  }, []);
  return ref;
}

/** Sets the document's title (`<page> · WebAsset Controller`) while the page is shown. */
export function useTitle(page: string): void {
  useEffect(() => {
    document.title = `${page} · WebAsset Controller`;
  }, [page]);
}
